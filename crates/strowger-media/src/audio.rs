//! Where sent audio comes from and where received audio goes: 16-bit mono PCM at the
//! session's clock rate (8 kHz for G.711), one packet time at a time.

use std::collections::VecDeque;
use std::f64::consts::TAU;
use std::sync::{Arc, Mutex};

use crate::wav::WavError;

/// Audio to send.
pub trait AudioSource: Send {
    /// Fills `frame` with the next samples and returns how many it wrote. Fewer than
    /// `frame.len()` means the source has ended; it is not read again.
    fn read(&mut self, frame: &mut [i16]) -> usize;
}

/// Audio received, after the jitter buffer and decoding.
pub trait AudioSink: Send {
    /// Takes the next samples.
    fn write(&mut self, samples: &[i16]) -> Result<(), WavError>;

    /// Called once when the session closes: flush, finalise headers.
    fn finish(&mut self) -> Result<(), WavError> {
        Ok(())
    }
}

impl<S: AudioSource + ?Sized> AudioSource for Box<S> {
    fn read(&mut self, frame: &mut [i16]) -> usize {
        (**self).read(frame)
    }
}

impl<S: AudioSink + ?Sized> AudioSink for Box<S> {
    fn write(&mut self, samples: &[i16]) -> Result<(), WavError> {
        (**self).write(samples)
    }

    fn finish(&mut self) -> Result<(), WavError> {
        (**self).finish()
    }
}

/// Silence, forever or for a number of samples.
#[derive(Debug, Clone, Default)]
pub struct Silence {
    remaining: Option<u64>,
}

impl Silence {
    /// Silence that never ends.
    pub fn endless() -> Silence {
        Silence { remaining: None }
    }

    /// Silence that ends after `samples` samples.
    pub fn for_samples(samples: u64) -> Silence {
        Silence {
            remaining: Some(samples),
        }
    }
}

impl AudioSource for Silence {
    fn read(&mut self, frame: &mut [i16]) -> usize {
        let n = match &mut self.remaining {
            None => frame.len(),
            Some(left) => {
                let n = (*left).min(frame.len() as u64) as usize;
                *left -= n as u64;
                n
            }
        };
        frame.iter_mut().take(n).for_each(|s| *s = 0);
        n
    }
}

/// A sine tone.
#[derive(Debug, Clone)]
pub struct Tone {
    step: f64,
    amplitude: f64,
    phase: f64,
    remaining: Option<u64>,
}

impl Tone {
    /// A tone of `frequency` Hz at `amplitude` (0.0-1.0 of full scale), sampled at
    /// `sample_rate`, that never ends.
    pub fn new(frequency: f64, amplitude: f64, sample_rate: u32) -> Tone {
        Tone {
            step: TAU * frequency / f64::from(sample_rate.max(1)),
            amplitude: amplitude.clamp(0.0, 1.0) * f64::from(i16::MAX),
            phase: 0.0,
            remaining: None,
        }
    }

    /// Ends the tone after `samples` samples.
    pub fn with_samples(mut self, samples: u64) -> Tone {
        self.remaining = Some(samples);
        self
    }
}

impl AudioSource for Tone {
    fn read(&mut self, frame: &mut [i16]) -> usize {
        let n = match self.remaining {
            None => frame.len(),
            Some(left) => (left.min(frame.len() as u64)) as usize,
        };
        for sample in frame.iter_mut().take(n) {
            *sample = (self.phase.sin() * self.amplitude).round() as i16;
            self.phase = (self.phase + self.step) % TAU;
        }
        if let Some(left) = &mut self.remaining {
            *left -= n as u64;
        }
        n
    }
}

/// Samples held in memory, played once.
#[derive(Debug, Clone, Default)]
pub struct SampleSource {
    samples: Vec<i16>,
    position: usize,
}

impl SampleSource {
    /// Plays `samples`.
    pub fn new(samples: Vec<i16>) -> SampleSource {
        SampleSource {
            samples,
            position: 0,
        }
    }
}

impl AudioSource for SampleSource {
    fn read(&mut self, frame: &mut [i16]) -> usize {
        let rest = self.samples.get(self.position..).unwrap_or_default();
        let n = rest.len().min(frame.len());
        for (out, sample) in frame.iter_mut().zip(rest) {
            *out = *sample;
        }
        self.position += n;
        n
    }
}

/// Throws received audio away.
#[derive(Debug, Clone, Copy, Default)]
pub struct NullSink;

impl AudioSink for NullSink {
    fn write(&mut self, _samples: &[i16]) -> Result<(), WavError> {
        Ok(())
    }
}

/// Keeps received audio in memory, readable through a shared handle.
#[derive(Debug, Clone, Default)]
pub struct MemorySink {
    samples: Arc<Mutex<Vec<i16>>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    /// A copy of what was written so far.
    pub fn samples(&self) -> Vec<i16> {
        self.samples.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl AudioSink for MemorySink {
    fn write(&mut self, samples: &[i16]) -> Result<(), WavError> {
        if let Ok(mut held) = self.samples.lock() {
            held.extend_from_slice(samples);
        }
        Ok(())
    }
}

/// Most audio an echo holds (4 s at 8 kHz): what the sink gets beyond it is dropped.
const ECHO_LIMIT: usize = 32_000;

/// A sink and a source joined: what is received is sent back, a loopback for tests with
/// a peer ("echo back").
pub fn echo() -> (EchoSink, EchoSource) {
    let queue = Arc::new(Mutex::new(VecDeque::new()));
    (
        EchoSink {
            queue: Arc::clone(&queue),
        },
        EchoSource { queue },
    )
}

/// The receiving half of [`echo`].
#[derive(Debug, Clone)]
pub struct EchoSink {
    queue: Arc<Mutex<VecDeque<i16>>>,
}

/// The sending half of [`echo`]: plays what the sink got, silence while it has nothing;
/// never ends.
#[derive(Debug, Clone)]
pub struct EchoSource {
    queue: Arc<Mutex<VecDeque<i16>>>,
}

impl AudioSink for EchoSink {
    fn write(&mut self, samples: &[i16]) -> Result<(), WavError> {
        if let Ok(mut queue) = self.queue.lock() {
            let room = ECHO_LIMIT.saturating_sub(queue.len());
            queue.extend(samples.iter().take(room));
        }
        Ok(())
    }
}

impl AudioSource for EchoSource {
    fn read(&mut self, frame: &mut [i16]) -> usize {
        let mut queue = self.queue.lock().ok();
        for sample in frame.iter_mut() {
            *sample = queue.as_mut().and_then(|q| q.pop_front()).unwrap_or(0);
        }
        frame.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tone_has_the_asked_frequency_and_length() {
        let mut tone = Tone::new(1000.0, 0.5, 8000).with_samples(200);
        let mut frame = [0i16; 160];
        assert_eq!(tone.read(&mut frame), 160);
        // 1 kHz at 8 kHz: period of 8 samples.
        assert_eq!(frame[0], 0);
        assert_eq!(frame[2], 16384);
        assert_eq!(frame[6], -16384);
        assert_eq!(tone.read(&mut frame), 40);
        assert_eq!(tone.read(&mut frame), 0);
    }

    #[test]
    fn silence_and_samples_end_when_asked() {
        let mut frame = [7i16; 160];
        assert_eq!(Silence::for_samples(100).read(&mut frame), 100);
        assert_eq!(frame[..100], [0; 100]);
        assert_eq!(Silence::endless().read(&mut frame), 160);
        let mut source = SampleSource::new(vec![1, 2, 3]);
        assert_eq!(source.read(&mut frame), 3);
        assert_eq!(frame[..3], [1, 2, 3]);
        assert_eq!(source.read(&mut frame), 0);
    }

    #[test]
    fn echo_plays_back_what_it_received() {
        let (mut sink, mut source) = echo();
        sink.write(&[1, 2, 3]).unwrap();
        let mut frame = [9i16; 5];
        assert_eq!(source.read(&mut frame), 5);
        assert_eq!(frame, [1, 2, 3, 0, 0]);
    }
}

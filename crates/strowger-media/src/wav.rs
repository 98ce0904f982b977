//! WAV files through `hound`: a source that plays a file (any PCM or float format, mixed to
//! mono and resampled to the session's rate by linear interpolation) and a sink that writes
//! 16-bit mono at the session's rate.
//!
//! Linear interpolation has no anti-aliasing filter: downsampling wideband speech to 8 kHz
//! this way folds energy above 4 kHz back into the band. Fine for test prompts; feed 8 kHz
//! files where it matters.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::audio::{AudioSink, AudioSource, SampleSource};

/// A WAV file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WavError {
    /// Opening, reading or writing the file failed.
    #[error("WAV file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// What `hound` said.
        source: hound::Error,
    },
    /// The header says 0 channels, or a sample rate of 0.
    #[error("WAV file {path} has {channels} channels at {sample_rate} Hz, which cannot be played")]
    Unplayable {
        /// The file.
        path: PathBuf,
        /// Channels in the header.
        channels: u16,
        /// Sample rate in the header.
        sample_rate: u32,
    },
    /// A sink was written after it was finished.
    #[error("WAV file {0} was already finished")]
    Finished(PathBuf),
}

/// Reads a whole WAV file as mono 16-bit samples at `sample_rate`.
pub fn read_wav(path: impl AsRef<Path>, sample_rate: u32) -> Result<Vec<i16>, WavError> {
    let path = path.as_ref();
    let file_error = |source| WavError::File {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = hound::WavReader::open(path).map_err(file_error)?;
    let spec = reader.spec();
    if spec.channels == 0 || spec.sample_rate == 0 || sample_rate == 0 {
        return Err(WavError::Unplayable {
            path: path.to_path_buf(),
            channels: spec.channels,
            sample_rate: spec.sample_rate,
        });
    }
    // Everything as f32 in [-1, 1].
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(file_error)?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|s| s as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(file_error)?
        }
    };
    let channels = usize::from(spec.channels);
    let mono: Vec<f32> = interleaved
        .chunks(channels)
        .map(|frame| frame.iter().sum::<f32>() / channels as f32)
        .collect();
    let resampled = resample_linear(&mono, spec.sample_rate, sample_rate);
    Ok(resampled
        .into_iter()
        .map(|s| (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect())
}

/// Resamples by linear interpolation between neighbouring input samples.
pub fn resample_linear(input: &[f32], from_rate: u32, to_rate: u32) -> Vec<f32> {
    if from_rate == to_rate || input.is_empty() || from_rate == 0 || to_rate == 0 {
        return input.to_vec();
    }
    let out_len = (input.len() as u64 * u64::from(to_rate) / u64::from(from_rate)) as usize;
    let ratio = f64::from(from_rate) / f64::from(to_rate);
    let last = input.len() - 1;
    (0..out_len)
        .map(|i| {
            let position = i as f64 * ratio;
            let index = (position.floor() as usize).min(last);
            let fraction = (position - index as f64) as f32;
            let a = input.get(index).copied().unwrap_or(0.0);
            let b = input.get((index + 1).min(last)).copied().unwrap_or(a);
            a + (b - a) * fraction
        })
        .collect()
}

/// Plays a WAV file once.
#[derive(Debug, Clone)]
pub struct WavSource {
    samples: SampleSource,
    len: usize,
}

impl WavSource {
    /// Reads the file now, converting it to mono at `sample_rate` (8000 for G.711).
    pub fn open(path: impl AsRef<Path>, sample_rate: u32) -> Result<WavSource, WavError> {
        let samples = read_wav(path, sample_rate)?;
        Ok(WavSource {
            len: samples.len(),
            samples: SampleSource::new(samples),
        })
    }

    /// Samples in the file after conversion.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the file holds no samples.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl AudioSource for WavSource {
    fn read(&mut self, frame: &mut [i16]) -> usize {
        self.samples.read(frame)
    }
}

/// Writes received audio to a 16-bit mono WAV file.
pub struct WavSink {
    path: PathBuf,
    writer: Option<hound::WavWriter<BufWriter<File>>>,
}

impl std::fmt::Debug for WavSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavSink").field("path", &self.path).finish()
    }
}

impl WavSink {
    /// Creates (or truncates) the file.
    pub fn create(path: impl AsRef<Path>, sample_rate: u32) -> Result<WavSink, WavError> {
        let path = path.as_ref().to_path_buf();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer = hound::WavWriter::create(&path, spec).map_err(|source| WavError::File {
            path: path.clone(),
            source,
        })?;
        Ok(WavSink {
            path,
            writer: Some(writer),
        })
    }
}

impl AudioSink for WavSink {
    fn write(&mut self, samples: &[i16]) -> Result<(), WavError> {
        let Some(writer) = self.writer.as_mut() else {
            return Err(WavError::Finished(self.path.clone()));
        };
        for &sample in samples {
            writer
                .write_sample(sample)
                .map_err(|source| WavError::File {
                    path: self.path.clone(),
                    source,
                })?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), WavError> {
        match self.writer.take() {
            Some(writer) => writer.finalize().map_err(|source| WavError::File {
                path: self.path.clone(),
                source,
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("strowger-media-{}-{name}", std::process::id()))
    }

    #[test]
    fn sink_output_reads_back_unchanged() {
        let path = temp("round-trip.wav");
        let samples: Vec<i16> = (0..1000).map(|i| (i * 37 % 2000 - 1000) as i16).collect();
        let mut sink = WavSink::create(&path, 8000).unwrap();
        sink.write(&samples[..500]).unwrap();
        sink.write(&samples[500..]).unwrap();
        sink.finish().unwrap();
        assert!(matches!(sink.write(&[0]), Err(WavError::Finished(_))));
        assert_eq!(read_wav(&path, 8000).unwrap(), samples);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn stereo_16k_is_mixed_to_mono_and_resampled_to_8k() {
        let path = temp("stereo16k.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 16000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..1600 {
            // Left a ramp, right its negative plus 2000: the mix is 1000 throughout.
            writer.write_sample((i % 100) as i16).unwrap();
            writer.write_sample(2000 - (i % 100) as i16).unwrap();
        }
        writer.finalize().unwrap();
        let mono = read_wav(&path, 8000).unwrap();
        assert_eq!(mono.len(), 800);
        assert!(mono.iter().all(|&s| s == 1000), "{:?}", &mono[..10]);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn linear_resampling_interpolates() {
        assert_eq!(
            resample_linear(&[0.0, 1.0, 0.0], 8000, 16000),
            [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
        );
        assert_eq!(
            resample_linear(&[0.0, 1.0, 2.0, 3.0], 16000, 8000),
            [0.0, 2.0]
        );
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let error = WavSource::open(temp("does-not-exist.wav"), 8000).unwrap_err();
        assert!(error.to_string().contains("does-not-exist.wav"), "{error}");
    }
}

use strowger_message::Message;
fn main() {
    for dir in ["rfc4475", "rfc5118"] {
        let idx = std::fs::read_to_string(format!("tests/data/{dir}/INDEX.tsv")).unwrap();
        for line in idx.lines().skip(1) {
            let f: Vec<_> = line.split('\t').collect();
            let bytes = std::fs::read(format!("tests/data/{dir}/{}.dat", f[0])).unwrap();
            let r = Message::parse(bytes).and_then(|m| m.validate().map(|_| m));
            let ok = r.is_ok() == (f[2] == "valid");
            println!(
                "{} {:24} {:8} {:?}",
                if ok { "  " } else { "XX" },
                f[0],
                f[2],
                r.err().map(|e| e.to_string())
            );
        }
    }
}

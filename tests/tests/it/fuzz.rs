//! The committed seed corpus of every cargo-fuzz target (`fuzz/corpus/<target>/`) goes through the
//! target's checks on a stable toolchain; `make fuzz` runs the fuzzers themselves.

#[path = "../../../fuzz/checks.rs"]
mod checks;

#[test]
fn the_seed_corpus_passes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    for (name, target) in checks::TARGETS {
        let dir = root.join(name);
        let seeds: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        assert!(seeds.len() >= 3, "{name}: a seed corpus of a few files");
        for seed in seeds {
            target(&std::fs::read(&seed).unwrap());
        }
    }
}

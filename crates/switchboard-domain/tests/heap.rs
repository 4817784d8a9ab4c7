//! `json::container_bytes` against what the allocator really holds. The
//! document cache weighs an entity by its JSON text plus the containers of
//! its free-form members; for free-form values of every shape, that must
//! not be far below the heap the parsed value takes (the cache's memory
//! bound would not hold), nor far above it (the cache would hold
//! needlessly few documents).
//!
//! Its own test binary: it makes jemalloc, the server's allocator, the
//! global allocator, and reads jemalloc's per-thread counters, so that
//! other tests cannot disturb the count.

#[cfg(test)]
mod heap {
    use std::collections::BTreeMap;

    use serde_json::Value;
    use switchboard_domain::json::container_bytes;

    #[global_allocator]
    static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

    /// Bytes this thread allocated minus bytes it freed.
    fn held_now() -> i128 {
        let allocated = tikv_jemalloc_ctl::thread::allocatedp::read().map(|p| p.get());
        let freed = tikv_jemalloc_ctl::thread::deallocatedp::read().map(|p| p.get());
        match (allocated, freed) {
            (Ok(a), Ok(f)) => i128::from(a) - i128::from(f),
            other => panic!("jemalloc's thread counters cannot be read: {other:?}"),
        }
    }

    /// A free-form map parsed from `text`, and the heap it holds.
    fn parsed(text: &str) -> (BTreeMap<String, Value>, usize) {
        let before = held_now();
        let map: BTreeMap<String, Value> = serde_json::from_str(text).unwrap();
        let held = held_now() - before;
        (map, usize::try_from(held).unwrap())
    }

    fn objects(n: usize) -> String {
        let items: Vec<String> = (0..n).map(|i| format!("{{\"k\":{i}}}")).collect();
        format!("{{\"items\":[{}]}}", items.join(","))
    }

    fn flat(n: usize) -> String {
        let members: Vec<String> = (0..n).map(|i| format!("\"key{i:03}\":{i}")).collect();
        format!("{{{}}}", members.join(","))
    }

    fn numbers(n: usize) -> String {
        let items: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        format!("{{\"n\":[{}]}}", items.join(","))
    }

    #[test]
    fn text_and_containers_estimate_the_heap_of_every_shape() {
        let cases: Vec<(&str, String)> = vec![
            ("one scalar", r#"{"plan":"gold"}"#.to_owned()),
            (
                "the benchmark's",
                r#"{"plan":{"tier":2,"seats":10}}"#.to_owned(),
            ),
            (
                "a long string",
                format!(r#"{{"note":"{}"}}"#, "x".repeat(3000)),
            ),
            ("100 flat members", flat(100)),
            ("500 one-member objects", objects(500)),
            ("1,000 numbers", numbers(1000)),
            (
                "nested arrays",
                r#"{"a":[[[1,2],[3]],[[4,[5,[6]]]]]}"#.to_owned(),
            ),
            (
                "empty containers",
                r#"{"a":{},"b":[],"c":[{},[]]}"#.to_owned(),
            ),
        ];
        for (name, text) in cases {
            let (map, held) = parsed(&text);
            assert!(held > 0, "{name}: nothing was counted");
            let compact = serde_json::to_string(&map).unwrap().len();
            let estimate = compact + container_bytes(&map);
            let shown =
                format!("{name}: holds {held} bytes, estimated {estimate} (text {compact})");
            assert!(held * 4 <= estimate * 5, "too low: {shown}");
            assert!(estimate <= 4 * held + 1024, "too high: {shown}");
        }
    }

    #[test]
    fn small_objects_hold_far_more_than_their_text() {
        let (map, held) = parsed(&objects(500));
        let compact = serde_json::to_string(&map).unwrap().len();
        // Why the text alone is no estimate: fifty times off and more.
        assert!(
            held > 50 * compact,
            "holds {held} for {compact} bytes of text"
        );
        assert!(
            container_bytes(&map) * 5 >= held * 4,
            "containers {} of {held}",
            container_bytes(&map)
        );
    }
}

//! A process killed (SIGKILL) at an arbitrary instant while appending leaves a store that
//! reopens at its last committed block: every block is there entirely or not at all.
//!
//! The test re-runs its own binary as a child that appends blocks forever, kills it after a
//! varying delay, then checks the store.

use proverka_log::{leaf_entry, leaf_hash, verify_inclusion};
use proverka_store::{BlockAppend, Store};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const CHILD_ENV: &str = "PROVERKA_CRASH_CHILD_DIR";
const PER_BLOCK: usize = 50;

fn block_statements(height: u64) -> Vec<Vec<u8>> {
    (0..PER_BLOCK)
        .map(|i| format!("crash test block {height} statement {i}").into_bytes())
        .collect()
}

/// The child: appends blocks until killed. A no-op in a normal test run.
#[test]
fn crash_child_appends_until_killed() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = Store::open(Path::new(&dir)).expect("child open");
    let mut height = store.applied_height() + 1;
    loop {
        let stmts = block_statements(height);
        let refs: Vec<&[u8]> = stmts.iter().map(Vec::as_slice).collect();
        let writes = vec![
            (b"last".to_vec(), Some(height.to_be_bytes().to_vec())),
            (format!("block/{height:08}").into_bytes(), Some(vec![1])),
        ];
        store
            .append_block(BlockAppend {
                height,
                digest: leaf_entry(&height.to_be_bytes()),
                statements: &refs,
                state_writes: &writes,
                state_root: [0; 32],
                checkpoint: None,
            })
            .expect("child append");
        height += 1;
    }
}

/// Everything up to the applied height is present and consistent; nothing after it.
fn check_store(dir: &Path) -> u64 {
    let store = Store::open(dir).expect("store reopens after the kill");
    let h = store.applied_height();
    assert_eq!(
        store.tree_size(),
        h * PER_BLOCK as u64,
        "all of each block's leaves"
    );
    let last = store.state_get(b"last").expect("read");
    assert_eq!(
        last,
        (h > 0).then(|| h.to_be_bytes().to_vec()),
        "state matches the height"
    );
    assert_eq!(
        store
            .state_scan_prefix(b"block/", usize::MAX)
            .expect("scan")
            .len() as u64,
        h,
        "one state write per committed block"
    );
    for height in [h, h + 1] {
        for (i, s) in block_statements(height).iter().enumerate() {
            let index = store.index_of(&leaf_entry(s)).expect("read");
            if height <= h && height > 0 {
                let index = index.expect("committed statement present");
                assert_eq!(index, (height - 1) * PER_BLOCK as u64 + i as u64);
                let size = store.tree_size();
                let path = store.inclusion_proof(index, size).expect("proof");
                verify_inclusion(
                    &leaf_hash(&leaf_entry(s)),
                    index,
                    size,
                    &path,
                    &store.root(),
                )
                .expect("proof verifies");
            } else {
                assert_eq!(index, None, "nothing of an uncommitted block");
            }
        }
    }
    h
}

#[test]
fn a_killed_appender_leaves_whole_blocks_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let mut heights = Vec::new();
    for delay_ms in [150u64, 40, 260, 90] {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child_appends_until_killed", "--nocapture"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        heights.push(check_store(dir.path()));
    }
    eprintln!("applied heights after each kill: {heights:?}");
    assert!(
        heights.windows(2).all(|w| w[0] <= w[1]),
        "never goes back: {heights:?}"
    );
    assert!(
        *heights.last().unwrap_or(&0) > 0,
        "the child made progress: {heights:?}"
    );
}

use super::*;

#[test]
fn tail_keeps_last_lines() {
    assert_eq!(tail("a\nb\nc", 2), "b\nc");
    assert_eq!(tail("a\nb\nc\n", 2), "b\nc\n");
    assert_eq!(tail("a", 5), "a");
    assert_eq!(tail("", 5), "");
}

#[test]
fn run_command_reports_failure_and_output() {
    let out = run_command(
        Command::new("sh").args(["-c", "echo hi"]),
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(out.stdout, b"hi\n");
    let err = run_command(
        Command::new("sh").args(["-c", "echo oops >&2; exit 3"]),
        Duration::from_secs(10),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("oops"), "{err}");
}

#[test]
fn process_logs_and_stops() {
    let dir = std::env::temp_dir().join(format!("wgl-proc-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "echo ready; exec sleep 60"]);
    let mut p = Process::spawn("sleeper", cmd, &dir).unwrap();
    p.wait_for_log("ready", Duration::from_secs(10)).unwrap();
    assert!(p.is_running());
    let status = p.stop().unwrap();
    assert!(!status.success());
    assert!(!p.is_running());
    let _ = std::fs::remove_dir_all(&dir);
}

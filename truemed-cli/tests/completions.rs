//! `truemed completions`.

mod support;

use support::*;

#[test]
fn a_completion_script_is_printed_for_each_shell() {
    for (shell, marker) in
        [("bash", "complete"), ("zsh", "#compdef truemed"), ("fish", "complete -c truemed")]
    {
        let output = run(support::truemed().args(["completions", shell]));
        assert_eq!(code(&output), 0, "{shell}");
        let script = stdout(&output);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(script.contains("backfill"), "{shell}");
    }
    let unknown = run(support::truemed().args(["completions", "tcsh"]));
    assert_eq!(code(&unknown), 2);
}

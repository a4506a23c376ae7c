"""SecurityCodeReviewer: turn a change (git range, diff or target paths) into a verdict."""

/**
 * `lab`'s exit code for runs the infrastructure cut short: the Docker engine went away
 * mid-run (its runs are INFRASTRUCTURE), or, for a merged summary, cells are missing, skipped
 * or INFRASTRUCTURE. It sits beside LabExit's 0 ok, 1 failure found, 2 usage, 3 environment:
 * what ran is reported; what did not must run again, and nothing was found wrong with it.
 */
export const EXIT_INFRASTRUCTURE = 4;

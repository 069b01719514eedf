"""`talkcli batch`: many render jobs from a manifest, on local worker processes or Ray.

- `manifest`: read and validate a CSV / JSON Lines manifest into `Job`s before any work;
- `cache`: the warm state of one worker (an analysed portrait reused across its jobs);
- `worker`: run one job in a warm worker, never raising for a job's own failure;
- `local` / `ray_backend`: the two ways of running the jobs;
- `report`: JSON lines, the summary and the exit code.
"""

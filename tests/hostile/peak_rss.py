"""Run the command in argv, then print one JSON line: exit code, output, peak RSS and seconds.

A fresh wrapper process per measurement: RUSAGE_CHILDREN then covers only the command, and the
wrapper itself is tiny (pytest's own memory would leak into a child forked from it).
"""
import json
import resource
import subprocess
import sys
import time

start = time.monotonic()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr,
                  "peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                  "seconds": round(time.monotonic() - start, 2)}))

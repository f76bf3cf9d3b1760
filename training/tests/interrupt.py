"""Run a training command in a subprocess and send it a signal once it has logged some steps."""
import subprocess
import sys
import time
from pathlib import Path

TRAINING = Path(__file__).resolve().parents[1]


def signal_after_logged(module: str, args: list[str], run_dir: Path, rows: int, sig: int) -> tuple[int, str]:
    """Runs ``python -m module args``, waits for ``rows`` lines in run_dir/log.csv, sends ``sig``, returns
    (exit status, stderr)."""
    p = subprocess.Popen([sys.executable, "-m", module] + args, cwd=TRAINING, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        log = Path(run_dir) / "log.csv"
        while time.time() < deadline and p.poll() is None:
            if log.is_file() and len(log.read_text().splitlines()) >= rows:
                break
            time.sleep(0.2)
        assert p.poll() is None, p.communicate()[1]
        p.send_signal(sig)
        _, err = p.communicate(timeout=120)
        return p.returncode, err
    finally:
        if p.poll() is None:
            p.kill()

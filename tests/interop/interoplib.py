"""What the interop drivers share (tests/interop/matrix/interop_test.py,
tests/interop/triple/triple_test.py): a started process whose stdout is
read line by line, and the tables each run writes into docs/interop.md
between its markers."""
import fcntl
import os
import re
import signal
import subprocess
import threading
import time


class Proc:
    """A started process whose stdout is read line by line in a thread;
    stderr goes to <log_dir>/<name>.log (or nowhere without log_dir)."""

    def __init__(self, name, argv, env=None, log_dir=None):
        self.name = name
        self.lines = []
        self.cv = threading.Condition()
        self.log = open(os.path.join(log_dir, name + ".log"), "w") if log_dir else None
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                  stderr=self.log or subprocess.DEVNULL,
                                  stdin=subprocess.DEVNULL, env=env, text=True, bufsize=1)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            with self.cv:
                self.lines.append(line.rstrip("\n"))
                self.cv.notify_all()
        with self.cv:
            self.cv.notify_all()

    def wait_line(self, pattern, timeout):
        """The first match of pattern in a line of stdout, or None when the
        timeout passes or the process ends without one."""
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        with self.cv:
            while True:
                for line in self.lines:
                    m = rx.search(line)
                    if m:
                        return m
                left = deadline - time.time()
                if left <= 0 or self.p.poll() is not None and not self.t.is_alive():
                    return None
                self.cv.wait(min(left, 0.2))

    def alive(self):
        return self.p.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Signal it, wait, kill past the timeout; the exit status."""
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.t.join(5)
        if self.log:
            self.log.close()
        return self.p.returncode


def markers(name):
    return "<!-- matrix:%s:begin -->" % name, "<!-- matrix:%s:end -->" % name


def read_section(path, name):
    """The text between name's markers in the file, or None."""
    begin, end = markers(name)
    try:
        with open(path) as f:
            doc = f.read()
    except OSError:
        return None
    i, j = doc.find(begin), doc.find(end)
    return doc[i + len(begin):j] if 0 <= i < j else None


def write_section(path, name, text):
    """Replace the text between name's markers (a locked rewrite: several
    interop runs share the file); nothing when the file or its folder is
    not writable or the markers are missing."""
    if not os.access(os.path.dirname(path), os.W_OK) or not os.path.exists(path):
        return
    begin, end = markers(name)
    with open(path, "r+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        doc = f.read()
        i, j = doc.find(begin), doc.find(end)
        if i < 0 or j < i:
            return
        new = doc[:i + len(begin)] + "\n" + text + doc[j:]
        if new != doc:
            f.seek(0)
            f.write(new)
            f.truncate()

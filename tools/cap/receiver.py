"""A CAP webhook receiver on loopback, for tests and for trying `crowdtwin run --cap-webhook`.

    python tools/cap/receiver.py DIR [--status CODE]

Listens on 127.0.0.1 on a free port, prints the port on the first line of stdout, and writes
each POSTed body to DIR/NNNN.xml (in arrival order) with its Content-Type in DIR/NNNN.type.
Answers every POST with CODE (default 201). Stops on SIGTERM or Ctrl-C.
"""

import argparse
import http.server
import pathlib
import sys
import threading


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", type=pathlib.Path)
    parser.add_argument("--status", type=int, default=201)
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()
    count = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                name = f"{count[0]:04d}"
                count[0] += 1
                (args.dir / f"{name}.xml").write_bytes(body)
                (args.dir / f"{name}.type").write_text(self.headers.get("Content-Type", ""))
            self.send_response(args.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())

"""Start the reference `scim2-server` with a larger listen backlog.

`scim2-server` serves through `wsgiref` with socketserver's default listen backlog of 5; under
concurrent load most of its latency is then refused-and-retried connections, not request handling.
This launcher changes nothing in the package: it raises `request_queue_size` on the server class
the command uses, then runs the command's own `main()` with the same arguments, e.g.

    python scim2_server_launcher.py --hostname 127.0.0.1 --port 18080 --bearer-token secret
"""

import os
import sys

from scim2_server.testserver import cli

BACKLOG = int(os.environ.get("SCIM2_SERVER_BACKLOG", "1024"))

cli.ThreadingWSGIServer.request_queue_size = BACKLOG

if __name__ == "__main__":
    sys.argv[0] = "scim2-server"
    sys.exit(cli.main())

import json, sys, http.server, socketserver
import os
page = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../tests/fixtures/github-api/recorded/paginate-issues.json')))[0]['response']
body = json.dumps(page).encode()
ETAG = '"v1"'
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def log_message(self, *a): pass
    def do_GET(self):
        common = [('ETag', ETAG), ('x-ratelimit-limit', '5000'), ('x-ratelimit-remaining', '4999'),
                  ('x-ratelimit-reset', '9999999999'), ('x-ratelimit-resource', 'core'), ('x-ratelimit-used', '1')]
        if self.headers.get('If-None-Match') == ETAG:
            self.send_response(304)
            for k, v in common: self.send_header(k, v)
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
        self.send_response(200)
        for k, v in common: self.send_header(k, v)
        self.send_header('Content-Type', 'application/json; charset=utf-8')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
S(('127.0.0.1', int(sys.argv[1])), H).serve_forever()

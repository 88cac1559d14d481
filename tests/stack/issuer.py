"""The token issuer of the stack test: a fresh RSA key whose public half a loopback server
publishes as OIDC discovery and JWKS, for API Gateway's JWT authorizer to fetch, and a second
key that nobody publishes, for forged tokens. The suite signs with the PEMs (`Issuer.describe`)."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KID = "stack-test"


def _b64url(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


class Issuer:
    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.foreign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self.key.public_key().public_numbers()
        jwk = {"kty": "RSA", "kid": KID, "alg": "RS256", "use": "sig", "n": _b64url(numbers.n), "e": _b64url(numbers.e)}
        self.server = _Server()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.server.documents = {
            "/.well-known/openid-configuration": {"issuer": self.url, "jwks_uri": f"{self.url}/jwks.json"},
            "/jwks.json": {"keys": [jwk]},
        }
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def describe(self) -> dict:
        """What the suite needs to sign tokens as this issuer, and to forge them."""
        return {"issuer": self.url, "kid": KID, "keyPem": _pem(self.key), "foreignKeyPem": _pem(self.foreign_key)}

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        document = self.server.documents.get(self.path)
        body = json.dumps(document).encode() if document else b""
        self.send_response(200 if document else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    documents: dict = {}

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)

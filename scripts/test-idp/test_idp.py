#!/usr/bin/env python3
"""An independent SAML 2.0 test IdP for Portcullis' sign-in tests.

Signatures come from signxml + lxml + cryptography and the oracle is Debian's
xmlsec1, so nothing here shares code with our verifier (crates/saml).

Usage: test_idp.py COMMAND < request.json > answer.json

Commands (the request is one JSON object; times are ISO 8601, e.g. 2026-11-01T10:00:00Z):
  keygen    {common_name?, not_before?, not_after?}            -> {key_pem, cert_pem}
  metadata  {entity_id, sso_url, cert_pems, want_authn_requests_signed?}   -> {xml}
  response  {issuer, destination, audience, name_id, key_pem, cert_pem, ...} -> {xml, saml_response,
            response_id, assertion_id, issue_instant}   (see `response` below for every field)
  verify    {xml, cert_pem, sp_key_pem?}  -> {signatures, verified}   (one bool per signature)
  serve     {entity_id, key_pem, cert_pem, name_id, port?, tls_key_pem?, tls_cert_pem?}
            -> prints {sso_url, metadata_url, control_url} once listening, then serves until killed (see `serve`)

An error prints a message on stderr and exits with status 1.
"""

import base64
import html
import http.server
import datetime as dt
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import zlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding as sympad, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import SignatureReference, XMLSigner
from signxml.util import ec_tag

PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
ASSERTION = "urn:oasis:names:tc:SAML:2.0:assertion"
METADATA = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
XENC = "http://www.w3.org/2001/04/xmlenc#"
XS = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENTITY_FORMAT = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'


class Fail(Exception):
    pass


def need(req, name):
    if req.get(name) in (None, ""):
        raise Fail(f"missing field: {name}")
    return req[name]


def parse_time(value, default):
    if value in (None, ""):
        return default
    t = dt.datetime.fromisoformat(value)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(dt.timezone.utc)


def iso(t):
    """Okta's form: UTC with milliseconds."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def new_id():
    # Okta's IDs look like id1234567890abcdef...; they start with a letter, as xs:ID requires.
    return "id" + secrets.token_hex(16)


def sub(parent, ns, local, attrib=None, text=None, nsmap=None):
    el = etree.SubElement(parent, f"{{{ns}}}{local}", attrib or {}, nsmap=nsmap)
    if text is not None:
        el.text = text
    return el


# ---------------------------------------------------------------- keygen

def keygen(req):
    now = dt.datetime.now(dt.timezone.utc)
    not_before = parse_time(req.get("not_before"), now - dt.timedelta(hours=1))
    not_after = parse_time(req.get("not_after"), now + dt.timedelta(days=365))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, req.get("common_name") or "test-idp")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {"key_pem": key_pem.decode(), "cert_pem": cert.public_bytes(serialization.Encoding.PEM).decode()}


def cert_base64(cert_pem):
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


# ---------------------------------------------------------------- metadata

def metadata(req):
    entity_id = need(req, "entity_id")
    sso_url = need(req, "sso_url")
    cert_pems = need(req, "cert_pems")
    want_signed = "true" if req.get("want_authn_requests_signed") else "false"
    root = etree.Element(f"{{{METADATA}}}EntityDescriptor", {"entityID": entity_id}, nsmap={"md": METADATA})
    idp = sub(root, METADATA, "IDPSSODescriptor", {
        "WantAuthnRequestsSigned": want_signed,
        "protocolSupportEnumeration": PROTOCOL,
    })
    for pem in cert_pems:
        kd = sub(idp, METADATA, "KeyDescriptor", {"use": "signing"})
        ki = sub(kd, DS, "KeyInfo", nsmap={"ds": DS})
        sub(sub(ki, DS, "X509Data"), DS, "X509Certificate", text=cert_base64(pem))
    for fmt in (UNSPECIFIED, EMAIL):
        sub(idp, METADATA, "NameIDFormat", text=fmt)
    for binding in (POST, REDIRECT):
        sub(idp, METADATA, "SingleSignOnService", {"Binding": binding, "Location": sso_url})
    return {"xml": (XML_DECLARATION + etree.tostring(root)).decode()}


# ---------------------------------------------------------------- signing

class OktaSigner(XMLSigner):
    """signxml digests with inclusive_ns_prefixes but does not write the
    InclusiveNamespaces element into the exc-c14n transform of an enveloped
    signature; write it, as Okta does, so that verifiers canonicalize alike."""

    def _build_transforms_for_reference(self, *, transforms_node, reference, exclude_c14n_transform_element=True):
        super()._build_transforms_for_reference(
            transforms_node=transforms_node,
            reference=reference,
            exclude_c14n_transform_element=exclude_c14n_transform_element,
        )
        if reference.inclusive_ns_prefixes:
            for transform in transforms_node:
                if transform.get("Algorithm") == EXC_C14N and len(transform) == 0:
                    etree.SubElement(
                        transform,
                        ec_tag("InclusiveNamespaces"),
                        PrefixList=" ".join(reference.inclusive_ns_prefixes),
                        nsmap={"ec": EXC_C14N},
                    )


def placeholder(parent):
    """Where signxml puts the enveloped signature: after the Issuer, as Okta does."""
    sub(parent, DS, "Signature", {"Id": "placeholder"}, nsmap={"ds": DS})


def sign(root, element_id, key_pem, cert_pem):
    signer = OktaSigner(signature_algorithm="rsa-sha256", digest_algorithm="sha256", c14n_algorithm=EXC_C14N)
    signer.namespaces = {"ds": DS}
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    signed = signer.sign(
        root,
        key=key,
        cert=cert_pem,
        reference_uri=[SignatureReference(URI="#" + element_id, inclusive_ns_prefixes=["xs"])],
        id_attribute="ID",
    )
    # A fresh parse: the tree handed back must serialize exactly as it was signed.
    return etree.fromstring(etree.tostring(signed))


# ---------------------------------------------------------------- encryption

def encrypt(assertion, sp_cert_pem):
    """EncryptedAssertion as Okta sends it: aes256-cbc content, rsa-oaep-mgf1p key transport."""
    plain = etree.tostring(assertion)
    cek, iv = os.urandom(32), os.urandom(16)
    padder = sympad.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(cek), modes.CBC(iv)).encryptor()
    body = iv + encryptor.update(padder.update(plain) + padder.finalize()) + encryptor.finalize()
    sp_key = x509.load_pem_x509_certificate(sp_cert_pem.encode()).public_key()
    wrapped = sp_key.encrypt(cek, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None))

    enc_assertion = etree.Element(f"{{{ASSERTION}}}EncryptedAssertion", nsmap={"saml2": ASSERTION})
    data = sub(enc_assertion, XENC, "EncryptedData", {"Id": "_" + secrets.token_hex(16),
                                                       "Type": XENC + "Element"}, nsmap={"xenc": XENC})
    sub(data, XENC, "EncryptionMethod", {"Algorithm": XENC + "aes256-cbc"})
    key_info = sub(data, DS, "KeyInfo", nsmap={"ds": DS})
    enc_key = sub(key_info, XENC, "EncryptedKey", {"Id": "_" + secrets.token_hex(16)})
    method = sub(enc_key, XENC, "EncryptionMethod", {"Algorithm": XENC + "rsa-oaep-mgf1p"})
    sub(method, DS, "DigestMethod", {"Algorithm": DS + "sha1"})
    sub(sub(enc_key, XENC, "CipherData"), XENC, "CipherValue", text=base64.b64encode(wrapped).decode())
    sub(sub(data, XENC, "CipherData"), XENC, "CipherValue", text=base64.b64encode(body).decode())
    return enc_assertion


# ---------------------------------------------------------------- response

TAMPERS = ("name_id", "audience", "signature_value")


def tamper(root, what, value):
    """Changes a signed document so that a signature no longer matches."""
    if what == "name_id":
        el = root.find(f".//{{{ASSERTION}}}NameID")
        el.text = value or "mallory@example.com"
    elif what == "audience":
        el = root.find(f".//{{{ASSERTION}}}Audience")
        el.text = value or "https://attacker.example.com/sp"
    elif what == "signature_value":
        el = root.find(f".//{{{DS}}}SignatureValue")
        raw = bytearray(base64.b64decode(el.text))
        raw[len(raw) // 2] ^= 0x01
        el.text = base64.b64encode(bytes(raw)).decode()


def assertion_element(req, issuer, assertion_id, now, sign_it):
    """saml2:Assertion in Okta's shape and order."""
    validity = dt.timedelta(minutes=req.get("validity_minutes", 5))
    recipient = req.get("recipient") or req["destination"]
    a = etree.Element(f"{{{ASSERTION}}}Assertion", {"ID": assertion_id, "IssueInstant": iso(now), "Version": "2.0"},
                      nsmap={"saml2": ASSERTION, "xs": XS})
    sub(a, ASSERTION, "Issuer", {"Format": ENTITY_FORMAT}, issuer)
    if sign_it:
        placeholder(a)
    subject = sub(a, ASSERTION, "Subject")
    sub(subject, ASSERTION, "NameID", {"Format": req.get("name_id_format") or UNSPECIFIED}, need(req, "name_id"))
    confirmation = sub(subject, ASSERTION, "SubjectConfirmation", {"Method": "urn:oasis:names:tc:SAML:2.0:cm:bearer"})
    data = {"NotOnOrAfter": iso(now + dt.timedelta(minutes=5)), "Recipient": recipient}
    if req.get("in_response_to"):
        data["InResponseTo"] = req["in_response_to"]
    sub(confirmation, ASSERTION, "SubjectConfirmationData", data)
    conditions = sub(a, ASSERTION, "Conditions", {"NotBefore": iso(now - validity),
                                                  "NotOnOrAfter": iso(now + validity)})
    sub(sub(conditions, ASSERTION, "AudienceRestriction"), ASSERTION, "Audience", text=need(req, "audience"))
    authn = sub(a, ASSERTION, "AuthnStatement", {"AuthnInstant": iso(now),
                                                 "SessionIndex": req.get("session_index") or assertion_id})
    sub(sub(authn, ASSERTION, "AuthnContext"), ASSERTION, "AuthnContextClassRef",
        text="urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport")
    attributes = req.get("attributes") or {}
    if attributes:
        statement = sub(a, ASSERTION, "AttributeStatement")
        for name, values in attributes.items():
            attr = sub(statement, ASSERTION, "Attribute",
                       {"Name": name, "NameFormat": "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"})
            for v in values if isinstance(values, list) else [values]:
                sub(attr, ASSERTION, "AttributeValue", {f"{{{XSI}}}type": "xs:string"}, str(v), nsmap={"xsi": XSI})
    return a


def response(req):
    """Request fields: issuer, destination (the ACS URL), audience, name_id, key_pem, cert_pem;
    optional: recipient (default destination), in_response_to, name_id_format (default
    unspecified), attributes ({name: [values]}), issue_instant (alias now; default the
    current time), validity_minutes (Conditions ±, default 5), session_index, response_id,
    assertion_id, sign_response and sign_assertion (default true), encrypt_cert_pem (the SP
    certificate: aes256-cbc + rsa-oaep-mgf1p), tamper (name_id | audience |
    signature_value, applied after signing) with tamper_value."""
    issuer = need(req, "issuer")
    destination = need(req, "destination")
    key_pem, cert_pem = need(req, "key_pem"), need(req, "cert_pem")
    now = parse_time(req.get("issue_instant") or req.get("now"), dt.datetime.now(dt.timezone.utc))
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    response_id = req.get("response_id") or new_id()
    assertion_id = req.get("assertion_id") or new_id()
    sign_response = req.get("sign_response", True)
    sign_assertion = req.get("sign_assertion", True)
    what = req.get("tamper")
    if what is not None and what not in TAMPERS:
        raise Fail(f"tamper must be one of {', '.join(TAMPERS)}")
    encrypt_to = req.get("encrypt_cert_pem")

    assertion = assertion_element(req, issuer, assertion_id, now, sign_assertion)
    if sign_assertion:
        assertion = sign(assertion, assertion_id, key_pem, cert_pem)
    if encrypt_to:
        if what in ("name_id", "audience"):
            tamper(assertion, what, req.get("tamper_value"))  # inside the ciphertext
        assertion = encrypt(assertion, encrypt_to)

    attrs = {"Destination": destination, "ID": response_id}
    if req.get("in_response_to"):
        attrs["InResponseTo"] = req["in_response_to"]
    attrs.update({"IssueInstant": iso(now), "Version": "2.0"})
    root = etree.Element(f"{{{PROTOCOL}}}Response", attrs, nsmap={"saml2p": PROTOCOL, "xs": XS})
    sub(root, ASSERTION, "Issuer", {"Format": ENTITY_FORMAT}, issuer, nsmap={"saml2": ASSERTION})
    if sign_response:
        placeholder(root)
    status = sub(root, PROTOCOL, "Status")
    sub(status, PROTOCOL, "StatusCode", {"Value": "urn:oasis:names:tc:SAML:2.0:status:Success"})
    root.append(assertion)
    if sign_response:
        root = sign(root, response_id, key_pem, cert_pem)
    if what and not (encrypt_to and what in ("name_id", "audience")):
        tamper(root, what, req.get("tamper_value"))

    xml = XML_DECLARATION + etree.tostring(root)
    return {
        "xml": xml.decode(),
        "saml_response": base64.b64encode(xml).decode(),
        "response_id": response_id,
        "assertion_id": assertion_id,
        "issue_instant": iso(now),
    }


# ---------------------------------------------------------------- oracle

ID_ATTRS = ["--id-attr:ID", PROTOCOL + ":Response", "--id-attr:ID", ASSERTION + ":Assertion"]


def xmlsec1(args):
    try:
        run = subprocess.run(["xmlsec1", *args], capture_output=True, text=True)
    except FileNotFoundError:
        raise Fail("xmlsec1 is not installed: run scripts/test-idp/setup.sh (Debian package xmlsec1)")
    return run.returncode == 0


def xmlsec1_verify(path, cert_path, selector, index):
    return xmlsec1([
        "--verify", "--enabled-reference-uris", "empty,same-doc",
        "--enabled-key-data", "raw-x509-cert", "--pubkey-cert-pem", cert_path,
        *ID_ATTRS, "--node-xpath", f"({selector})[{index}]", path,
    ])


def verify(req):
    """Checks every ds:Signature with xmlsec1, the key taken only from cert_pem. An
    EncryptedAssertion is decrypted with sp_key_pem (xmlsec1 --decrypt) and the
    signature of the assertion inside is checked too (last in the list)."""
    xml = need(req, "xml")
    # Only to count: entities stay unexpanded (attack documents may carry a DTD).
    doc = etree.fromstring(xml.encode(), etree.XMLParser(resolve_entities=False, no_network=True))
    any_signature = "//*[local-name()='Signature']"
    count = len(doc.xpath(any_signature))
    encrypted = doc.find(f".//{{{ASSERTION}}}EncryptedAssertion") is not None
    with tempfile.TemporaryDirectory() as tmp:
        doc_path, cert_path = Path(tmp, "doc.xml"), Path(tmp, "idp.crt")
        doc_path.write_text(xml)
        cert_path.write_text(need(req, "cert_pem"))
        verified = [xmlsec1_verify(str(doc_path), str(cert_path), any_signature, i) for i in range(1, count + 1)]
        if encrypted:
            key_path, plain_path = Path(tmp, "sp.key"), Path(tmp, "plain.xml")
            key_path.write_text(need(req, "sp_key_pem"))
            decrypted = xmlsec1(["--decrypt", "--privkey-pem", str(key_path), *ID_ATTRS,
                                 "--output", str(plain_path), str(doc_path)])
            inner = "//*[local-name()='Assertion']/*[local-name()='Signature']"
            count += 1
            verified.append(decrypted and xmlsec1_verify(str(plain_path), str(cert_path), inner, 1))
    return {"signatures": count, "verified": verified}


# ---------------------------------------------------------------- serve (for a real browser)

def parse_authn_request(saml_request):
    """HTTP-Redirect binding: base64 of the raw-deflated AuthnRequest."""
    try:
        xml = zlib.decompress(base64.b64decode(saml_request), -15)
        doc = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    except (ValueError, zlib.error, etree.XMLSyntaxError) as e:
        raise Fail(f"SAMLRequest is not a deflated, base64 AuthnRequest: {e}")
    if doc.tag != f"{{{PROTOCOL}}}AuthnRequest":
        raise Fail(f"SAMLRequest is a {doc.tag}, not an AuthnRequest")
    issuer = doc.find(f"{{{ASSERTION}}}Issuer")
    acs = doc.get("AssertionConsumerServiceURL")
    if not doc.get("ID") or issuer is None or not issuer.text or not acs:
        raise Fail("the AuthnRequest needs an ID, an Issuer and an AssertionConsumerServiceURL")
    return {"id": doc.get("ID"), "issuer": issuer.text.strip(), "acs": acs}


def continue_page(acs, saml_response, relay_state):
    """What the IdP answers after sign-in: a form that POSTs to the ACS when Continue is
    clicked (Okta's page submits it by script; a test clicks the button instead)."""
    relay = ""
    if relay_state is not None:
        relay = f'<input type="hidden" name="RelayState" value="{html.escape(relay_state)}">'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test IdP</title></head>
<body><h1>Test IdP</h1><p id="signed-in-as">Signed in as {html.escape(SERVER["name_id"])}</p>
<form id="saml-post" method="post" action="{html.escape(acs)}">
<input type="hidden" name="SAMLResponse" value="{html.escape(saml_response)}">{relay}
<button type="submit" id="continue">Continue</button></form></body></html>"""


SERVER = {}
SERVER_LOCK = threading.Lock()


class IdpHandler(http.server.BaseHTTPRequestHandler):
    """GET /sso (HTTP-Redirect binding), GET /metadata, POST /user {name_id} to change who signs in."""

    def log_message(self, fmt, *args):
        pass  # refusals are told in the answer; a test shows what it got

    def answer(self, status, content_type, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/metadata":
            return self.answer(200, "application/samlmetadata+xml", SERVER["metadata"])
        if url.path != "/sso":
            return self.answer(404, "text/plain", "not found\n")
        try:
            if "SAMLRequest" not in query:
                raise Fail("no SAMLRequest in the query string")
            authn = parse_authn_request(query["SAMLRequest"][0])
            with SERVER_LOCK:
                name_id = SERVER["name_id"]
                signed = response({
                    "issuer": SERVER["entity_id"],
                    "destination": authn["acs"],
                    "audience": authn["issuer"],
                    "in_response_to": authn["id"],
                    "name_id": name_id,
                    "attributes": {"email": [name_id]},
                    "key_pem": SERVER["key_pem"],
                    "cert_pem": SERVER["cert_pem"],
                })
        except Fail as e:
            return self.answer(400, "text/plain", f"test IdP: {e}\n")
        relay = query.get("RelayState", [None])[0]
        self.answer(200, "text/html; charset=utf-8", continue_page(authn["acs"], signed["saml_response"], relay))

    def do_POST(self):
        if urllib.parse.urlsplit(self.path).path != "/user":
            return self.answer(404, "text/plain", "not found\n")
        length = int(self.headers.get("Content-Length") or 0)
        try:
            name_id = need(json.loads(self.rfile.read(length) or b"{}"), "name_id")
        except (Fail, ValueError) as e:
            return self.answer(400, "text/plain", f"test IdP: {e}\n")
        with SERVER_LOCK:
            SERVER["name_id"] = name_id
        self.answer(200, "application/json", json.dumps({"name_id": name_id}))


def serve(req):
    """Serves the IdP to a browser on 127.0.0.1:`port` (0: any free port) until killed. Over
    TLS when tls_key_pem and tls_cert_pem are given. Prints one JSON line once listening:
    {sso_url, metadata_url}. Every sign-in is for `name_id` (its email attribute too) until
    POST /user {"name_id": ...} names another user."""
    SERVER.update({
        "entity_id": need(req, "entity_id"),
        "key_pem": need(req, "key_pem"),
        "cert_pem": need(req, "cert_pem"),
        "name_id": need(req, "name_id"),
    })
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", int(req.get("port") or 0)), IdpHandler)
    scheme = "http"
    if req.get("tls_key_pem") and req.get("tls_cert_pem"):
        import ssl
        with tempfile.TemporaryDirectory() as tmp:
            key_path, cert_path = Path(tmp, "tls.key"), Path(tmp, "tls.crt")
            key_path.write_text(req["tls_key_pem"])
            cert_path.write_text(req["tls_cert_pem"])
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(cert_path), str(key_path))
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        scheme = "https"
    # The control endpoint stays plain HTTP, so a test's client needs no TLS.
    control = http.server.ThreadingHTTPServer(("127.0.0.1", 0), IdpHandler)
    threading.Thread(target=control.serve_forever, daemon=True).start()
    base = f"{scheme}://127.0.0.1:{httpd.server_address[1]}"
    sso_url = base + "/sso"
    SERVER["metadata"] = metadata({"entity_id": SERVER["entity_id"], "sso_url": sso_url,
                                   "cert_pems": req.get("cert_pems") or [SERVER["cert_pem"]]})["xml"]
    print(json.dumps({"sso_url": sso_url, "metadata_url": base + "/metadata",
                      "control_url": f"http://127.0.0.1:{control.server_address[1]}"}), flush=True)
    httpd.serve_forever()
    return None


def responses(req):
    """Many responses for a benchmark: `base` is a `response` request without name_id, and
    each entry of `name_ids` gets its own response (fresh IDs), returned as base64 lines."""
    base = need(req, "base")
    lines = [response(dict(base, name_id=n))["saml_response"] for n in need(req, "name_ids")]
    return {"saml_responses": lines}


COMMANDS = {
    "keygen": keygen,
    "metadata": metadata,
    "response": response,
    "responses": responses,
    "serve": serve,
    "verify": verify,
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
        print(f"usage: {sys.argv[0]} {{{'|'.join(COMMANDS)}}} < request.json", file=sys.stderr)
        return 2
    try:
        req = json.load(sys.stdin)
        out = COMMANDS[sys.argv[1]](req)
    except (Fail, ValueError, KeyError, TypeError) as e:
        print(f"test_idp {sys.argv[1]}: {e}", file=sys.stderr)
        return 1
    if out is None:
        return 0
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

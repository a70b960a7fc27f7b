"""
TLS and AUTH test material: certificates made with the openssl command
(a private CA, a server certificate for mx.test.example, a second one for
SNI) and a Dovecot-format password file hashed with `doveadm pw`, so the
same file would serve Dovecot.
"""
import os
import socket
import ssl
import subprocess
import tempfile

USERS = {
    "alice@example.com": ("SHA512-CRYPT", "alice-secret"),
    "bob@example.net": ("BLF-CRYPT", "bob-secret"),
    "carol@example.net": ("CRYPT", "carol-secret"),   # yescrypt, {CRYPT}$y$...
}


def _run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_cert(d, name, cn, ca_key, ca_crt, sans=()):
    key = os.path.join(d, f"{name}.key")
    csr = os.path.join(d, f"{name}.csr")
    crt = os.path.join(d, f"{name}.crt")
    ext = os.path.join(d, f"{name}.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=" + ",".join(f"DNS:{n}" for n in (cn,) + tuple(sans)) + "\n")
    _run("openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
         "-out", csr, "-subj", f"/CN={cn}")
    _run("openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
         "-CAcreateserial", "-out", crt, "-days", "30", "-extfile", ext)
    os.chmod(key, 0o600)   # root-only, as on a real server: read before chroot
    return key, crt


class TlsFiles:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mw-tls-")
        os.chmod(self.dir, 0o755)
        self.ca_key = os.path.join(self.dir, "ca.key")
        self.ca = os.path.join(self.dir, "ca.crt")
        _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.ca_key,
             "-out", self.ca, "-days", "30", "-subj", "/CN=mailwarden test CA")
        self.key, self.cert = make_cert(self.dir, "mx", "mx.test.example", self.ca_key, self.ca)
        self.sni_key, self.sni_cert = make_cert(self.dir, "net", "mail.example.net",
                                                self.ca_key, self.ca)
        # A single PEM file with key and chain (key first), for the SNI map.
        self.sni_pem = os.path.join(self.dir, "net.pem")
        with open(self.sni_pem, "w") as out:
            for p in (self.sni_key, self.sni_cert, self.ca):
                out.write(open(p).read())
        os.chmod(self.sni_pem, 0o600)
        self.passwd = os.path.join(self.dir, "passwd")
        with open(self.passwd, "w") as f:
            f.write("# user:{SCHEME}hash, as Dovecot's passwd-file\n")
            for user, (scheme, pw) in USERS.items():
                h = subprocess.run(["doveadm", "pw", "-s", scheme, "-p", pw], check=True,
                                   capture_output=True, text=True).stdout.strip()
                f.write(f"{user}:{h}\n")
        os.chmod(self.passwd, 0o600)

    def config(self, *extra):
        return [
            f"smtpd_tls_cert_file = {self.cert}",
            f"smtpd_tls_key_file = {self.key}",
            "smtpd_tls_security_level = may",
            "smtpd_sasl_auth_enable = yes",
            "smtpd_sasl_type = passwd-file",
            f"smtpd_sasl_path = {self.passwd}",
            "smtpd_sasl_failure_delay = 0",
            "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, "
            "reject_unauth_destination",
            "mynetworks = 192.0.2.0/24",
        ] + list(extra)

    def client_context(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        return ctx


def peer_cn(sslsock):
    cert = sslsock.getpeercert()
    for rdn in cert.get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                return v
    return None


def tls_connect(host, port, ctx, server_hostname="mx.test.example", timeout=10):
    raw = socket.create_connection((host, port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname=server_hostname)

#!/usr/bin/python3
"""An independent, minimal Crypt4GH v1 reader and writer: the interop oracle for Ward's tests.

Written from the GA4GH specification with Debian's python3-cryptography (X25519,
ChaCha20-Poly1305) and hashlib (BLAKE2b); it shares no code with Ward.

  c4gh_oracle.py decrypt SECKEY_FILE < in.c4gh > out      (unencrypted c4gh-v1 key)
  c4gh_oracle.py encrypt SECKEY_FILE PUBKEY_FILE [--edit N,N,...] < in > out.c4gh
"""
import base64, hashlib, os, struct, sys
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives import serialization

RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw
SEG = 65536


def pem_body(path):
    lines = [l.strip() for l in open(path) if l.strip() and not l.startswith('-----')]
    return base64.b64decode(''.join(lines))


def load_sk(path):
    blob = pem_body(path)
    assert blob.startswith(b'c4gh-v1'), 'not c4gh-v1'
    pos, fields = 7, []
    while pos < len(blob) and len(fields) < 3:
        n = struct.unpack('>H', blob[pos:pos + 2])[0]
        fields.append(blob[pos + 2:pos + 2 + n])
        pos += 2 + n
    assert fields[0] == b'none' and fields[1] == b'none', 'oracle reads unencrypted keys only'
    return X25519PrivateKey.from_private_bytes(fields[2])


def load_pk(path):
    return X25519PublicKey.from_public_bytes(pem_body(path))


def shared_key(sk, peer_pk, reader_pk, writer_pk):
    dh = sk.exchange(peer_pk)
    return hashlib.blake2b(dh + reader_pk + writer_pk, digest_size=64).digest()[:32]


def decrypt(skpath):
    sk = load_sk(skpath)
    my_pk = sk.public_key().public_bytes(*RAW)
    data = sys.stdin.buffer.read()
    assert data[:8] == b'crypt4gh', 'bad magic'
    version, count = struct.unpack('<II', data[8:16])
    assert version == 1 and count > 0
    pos, keys, edit = 16, [], None
    for _ in range(count):
        plen, method = struct.unpack('<II', data[pos:pos + 8])
        pkt = data[pos:pos + plen]
        pos += plen
        if method != 0:
            continue
        wpk = pkt[8:40]
        k = shared_key(sk, X25519PublicKey.from_public_bytes(wpk), my_pk, wpk)
        try:
            body = ChaCha20Poly1305(k).decrypt(pkt[40:52], pkt[52:], None)
        except Exception:
            continue
        ptype = struct.unpack('<I', body[:4])[0]
        if ptype == 0:
            assert struct.unpack('<I', body[4:8])[0] == 0
            keys.append(body[8:40])
        elif ptype == 1:
            assert edit is None, 'two edit lists'
            n = struct.unpack('<I', body[4:8])[0]
            edit = list(struct.unpack('<%dQ' % n, body[8:8 + 8 * n]))
        else:
            raise SystemExit('unknown packet type')
    assert keys, 'no data key'
    plain = bytearray()
    while pos < len(data):
        chunk = data[pos:pos + SEG + 28]
        pos += len(chunk)
        for k in keys:
            try:
                plain += ChaCha20Poly1305(k).decrypt(chunk[:12], chunk[12:], None)
                break
            except Exception:
                pass
        else:
            raise SystemExit('segment failed authentication')
    if edit:
        out, at = bytearray(), 0
        for i, n in enumerate(edit):
            if i % 2 == 0:
                at += n
                if i == len(edit) - 1:
                    out += plain[at:]
            else:
                out += plain[at:at + n]
                at += n
        plain = out
    sys.stdout.buffer.write(plain)


def encrypt(skpath, pkpath, edit=None):
    sk, rpk = load_sk(skpath), load_pk(pkpath)
    wpk = sk.public_key().public_bytes(*RAW)
    rpk_raw = rpk.public_bytes(*RAW)
    k = shared_key(sk, rpk, rpk_raw, wpk)
    dek = os.urandom(32)
    payloads = [struct.pack('<II', 0, 0) + dek]
    if edit:
        payloads.append(struct.pack('<II', 1, len(edit)) + struct.pack('<%dQ' % len(edit), *edit))
    out = bytearray(b'crypt4gh' + struct.pack('<II', 1, len(payloads)))
    for p in payloads:
        nonce = os.urandom(12)
        ct = ChaCha20Poly1305(k).encrypt(nonce, p, None)
        out += struct.pack('<II', 8 + 32 + 12 + len(ct), 0) + wpk + nonce + ct
    plain = sys.stdin.buffer.read()
    for i in range(0, len(plain), SEG):
        nonce = os.urandom(12)
        out += nonce + ChaCha20Poly1305(dek).encrypt(nonce, plain[i:i + SEG], None)
    sys.stdout.buffer.write(out)


if __name__ == '__main__':
    if sys.argv[1] == 'decrypt':
        decrypt(sys.argv[2])
    elif sys.argv[1] == 'encrypt':
        edit = None
        if len(sys.argv) > 5 and sys.argv[4] == '--edit':
            edit = [int(x) for x in sys.argv[5].split(',')]
        encrypt(sys.argv[2], sys.argv[3], edit)

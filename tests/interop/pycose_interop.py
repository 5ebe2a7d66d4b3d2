#!/usr/bin/env python3
"""Interoperability test of Proverka's formats with code nobody on the team wrote.

Statements are built and signed with pycose (PyPI); receipts, inclusion and consistency proofs,
checkpoints and tiles are verified by the small independent verifier in this file, written on
pycose, cryptography and cbor2 only (nothing from the Rust workspace).

Usage:
    pycose_interop.py --url http://127.0.0.1:PORT --data-dir DIR   # against a `proverka node --dev`
    pycose_interop.py --self-test                                   # offline parts only

Offline parts (always run first): RFC 9679 thumbprints against the RFC's example, the golden
statement of docs/statements.md reproduced byte for byte by pycose, the RFC 9162 functions
against the transparency-dev/merkle vectors, and the receipt verifier against the scitt-cose
receipts. The vectors live in <repo>/../shared/vectors (or --vectors DIR).

Exit status 0 when every check passes; 1 with a list of failures otherwise; 2 on bad usage or
missing prerequisites.
"""

import argparse
import base64
import hashlib
import json
import os
import sys
import time
import traceback
import urllib.error
import urllib.request

try:
    import cbor2
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    from pycose.headers import KID, Algorithm, ContentType
    from pycose.keys import CoseKey
    from pycose.algorithms import EdDSA, Es256
    from pycose.messages import Sign1Message
except ImportError as e:  # pragma: no cover - environment problem, not a test failure
    print(f"missing Python dependency ({e}); run scripts/setup-python.sh", file=sys.stderr)
    sys.exit(2)


def _check_cbor2_version():
    from importlib.metadata import version

    v = version("cbor2")
    if int(v.split(".")[0]) >= 6:
        # cbor2 6 decodes arrays as tuples; pycose 1.1.0 then refuses every COSE message
        # ("Bytes cannot be decoded as COSE message", TimothyClaeys/pycose#141).
        print(f"cbor2 {v} breaks pycose 1.1.0 decoding (pycose#141); requirements.txt pins "
              "cbor2<6: run .venv/bin/pip install -r tests/interop/requirements.txt",
              file=sys.stderr)
        sys.exit(2)


_check_cbor2_version()

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ISSUER_REGISTRATION_CT = "application/vnd.proverka.issuer+cbor"
HDR_VDS = 395
HDR_VDP = 396
VDS_RFC9162_SHA256 = 1
SIGN1_TAG = 18
# Receipt algorithms this verifier accepts, with the COSE_Key (kty, crv) each needs.
RECEIPT_ALGS = {-7: (2, 1), -9: (2, 1), -8: (1, 6), -19: (1, 6)}
# RFC 9679 §6 example (the RFC 9052 P-256 key of meriadoc.brandybuck@buckland.example).
RFC9679_X = "65eda5a12577c2bae829437fe338701a10aaa375e1bb5b5de108de439c08551d"
RFC9679_Y = "1e52ed75701163f7f9e40ddf9f341b3dc9ba860af7e0ca7ca7e9eecd0084d19c"
RFC9679_THUMBPRINT = "496bd8afadf307e5b08c64b0421bf9dc01528a344a43bda88fadd1669da253ec"


class Failure(Exception):
    """A check that failed and makes the rest of a step meaningless."""


class Report:
    """Collects check outcomes; failures do not stop unrelated checks."""

    def __init__(self):
        self.passed = 0
        self.failures = []

    def ok(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failures.append(what)
            print(f"  FAIL {what}", flush=True)
        return cond

    def require(self, cond, what):
        if not self.ok(cond, what):
            raise Failure(what)

    def step(self, title):
        print(f"== {title}", flush=True)


R = Report()


def sha256(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


# ---------------------------------------------------------------------------------------------
# RFC 9162 (Certificate Transparency 2.0) Merkle tree functions, written from the RFC text.
# ---------------------------------------------------------------------------------------------


def leaf_hash(data):
    """RFC 9162 §2.1.1: MTH({d}) = HASH(0x00 || d)."""
    return sha256(b"\x00", data)


def node_hash(left, right):
    return sha256(b"\x01", left, right)


def mth(leaf_hashes):
    """RFC 9162 §2.1.1 Merkle Tree Hash over already-hashed leaves."""
    n = len(leaf_hashes)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaf_hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(leaf_hashes[:k]), mth(leaf_hashes[k:]))


def root_from_inclusion(leaf, index, size, path):
    """RFC 9162 §2.1.3.2: the root an inclusion proof leads to; raises ValueError if malformed."""
    if index >= size:
        raise ValueError(f"leaf index {index} not below tree size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if len(p) != 32:
            raise ValueError("path element is not 32 bytes")
        if sn == 0:
            raise ValueError("inclusion path too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("inclusion path too short")
    return r


def verify_inclusion(leaf, index, size, path, root):
    if len(leaf) != 32 or len(root) != 32:
        return False
    try:
        return root_from_inclusion(leaf, index, size, path) == root
    except ValueError:
        return False


def verify_consistency(size1, size2, root1, root2, path):
    """RFC 9162 §2.1.4.2, plus the cases §2.1.4 leaves to the caller: proofs start from a
    non-empty tree (0 < size1, as PROOF(m, D[n]) is defined), and equal sizes need an empty
    proof and equal roots."""
    if size1 == 0 or size1 > size2:
        return False
    if size1 == size2:
        return not path and root1 == root2
    if len(root1) != 32 or len(root2) != 32:
        return False
    if not path:  # step 1
        return False
    if any(len(c) != 32 for c in path):
        return False
    path = list(path)
    if size1 & (size1 - 1) == 0:  # step 2: first is an exact power of 2
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root1 and sr == root2 and sn == 0  # step 7


# ---------------------------------------------------------------------------------------------
# COSE keys and RFC 9679 thumbprints (cbor2 canonical encoding, independently of the ledger).
# ---------------------------------------------------------------------------------------------


def ec2_cose_key(x, y):
    return {1: 2, -1: 1, -2: x, -3: y}


def okp_cose_key(x):
    return {1: 1, -1: 6, -2: x}


def required_members(key_map):
    """The RFC 9679 required members of an EC2 P-256 or OKP Ed25519 COSE_Key map."""
    kty, crv = key_map.get(1), key_map.get(-1)
    if kty == 2 and crv == 1:
        x, y = key_map.get(-2), key_map.get(-3)
        if not (isinstance(x, bytes) and isinstance(y, bytes) and len(x) == len(y) == 32):
            raise ValueError("EC2 P-256 key without 32-byte x and y")
        return ec2_cose_key(x, y)
    if kty == 1 and crv == 6:
        x = key_map.get(-2)
        if not (isinstance(x, bytes) and len(x) == 32):
            raise ValueError("OKP Ed25519 key without a 32-byte x")
        return okp_cose_key(x)
    raise ValueError(f"unsupported COSE_Key kty {kty!r} crv {crv!r}")


def deterministic(obj):
    """RFC 8949 core deterministic encoding. cbor2's canonical mode sorts keys length-first
    (RFC 7049 canonical), which equals the bytewise order for the one-byte labels used here."""
    return cbor2.dumps(obj, canonical=True)


def thumbprint(key_map):
    """RFC 9679 COSE Key Thumbprint, SHA-256."""
    return sha256(deterministic(required_members(key_map)))


def p256_public_map(public_key):
    nums = public_key.public_numbers()
    return ec2_cose_key(nums.x.to_bytes(32, "big"), nums.y.to_bytes(32, "big"))


def ed25519_public_map(public_key):
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return okp_cose_key(raw)


def pycose_private_key(private_key):
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return CoseKey.from_pem_private_key(pem)


def pycose_public_key(key_map):
    return CoseKey.from_dict(required_members(key_map))


def crypto_public_key(key_map):
    """A `cryptography` public key from a COSE_Key map (independent of pycose)."""
    m = required_members(key_map)
    if m[1] == 2:
        return ec.EllipticCurvePublicNumbers(
            int.from_bytes(m[-2], "big"), int.from_bytes(m[-3], "big"), ec.SECP256R1()
        ).public_key()
    return ed25519.Ed25519PublicKey.from_public_bytes(m[-2])


def crypto_verify(public_key, alg, message, signature):
    """Verifies a COSE signature (raw r || s for ECDSA) with `cryptography` directly."""
    try:
        if alg in (-7, -9):
            if len(signature) != 64 or not isinstance(public_key, ec.EllipticCurvePublicKey):
                return False
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            public_key.verify(der, message, ec.ECDSA(hashes.SHA256()))
            return True
        if alg in (-8, -19):
            if not isinstance(public_key, ed25519.Ed25519PublicKey):
                return False
            public_key.verify(signature, message)
            return True
    except InvalidSignature:
        return False
    return False


# ---------------------------------------------------------------------------------------------
# Signed statements with pycose.
# ---------------------------------------------------------------------------------------------


def sign_statement(private_key, key_map, iss, sub, content_type, payload, iat=None):
    """A tagged COSE_Sign1 signed statement built and signed by pycose."""
    alg = Es256 if key_map[1] == 2 else EdDSA
    phdr = {
        Algorithm: alg,
        ContentType: content_type,
        KID: thumbprint(key_map),
        15: {1: iss, 2: sub, 6: int(time.time()) if iat is None else iat},
    }
    msg = Sign1Message(phdr=phdr, uhdr={}, payload=payload)
    msg.key = pycose_private_key(private_key)
    return msg.encode(tag=True)


def pycose_verify_statement(statement, key):
    """pycose's verdict on a statement's own signature."""
    msg = Sign1Message.decode(statement)
    msg.key = key
    try:
        return bool(msg.verify_signature())
    except Exception:  # pycose raises on key/alg mismatch
        return False


# ---------------------------------------------------------------------------------------------
# RFC 9942 receipt verifier (vds RFC9162_SHA256).
# ---------------------------------------------------------------------------------------------


class ReceiptInvalid(Exception):
    pass


def decode_receipt(receipt):
    """Structural decoding: returns (protected_bytes, protected, unprotected, payload, sig)."""
    try:
        item = cbor2.loads(receipt)
    except Exception as e:
        raise ReceiptInvalid(f"not CBOR: {e}")
    if not isinstance(item, cbor2.CBORTag) or item.tag != SIGN1_TAG:
        raise ReceiptInvalid("not a tag-18 COSE_Sign1")
    arr = item.value
    if not isinstance(arr, (list, tuple)) or len(arr) != 4:
        raise ReceiptInvalid("COSE_Sign1 is not a 4-array")
    phdr_bytes, uhdr, payload, sig = arr
    if not isinstance(phdr_bytes, bytes) or not isinstance(uhdr, dict):
        raise ReceiptInvalid("bad header buckets")
    phdr = cbor2.loads(phdr_bytes) if phdr_bytes else {}
    if not isinstance(phdr, dict):
        raise ReceiptInvalid("protected header is not a map")
    if not isinstance(sig, bytes):
        raise ReceiptInvalid("signature is not a bstr")
    return phdr_bytes, phdr, uhdr, payload, sig


def inclusion_proof_of(uhdr):
    vdp = uhdr.get(HDR_VDP)
    if not isinstance(vdp, dict):
        raise ReceiptInvalid("no vdp (396) map in the unprotected header")
    proofs = vdp.get(-1)
    if not isinstance(proofs, (list, tuple)) or len(proofs) != 1 or not isinstance(proofs[0], bytes):
        raise ReceiptInvalid("vdp -1 is not an array of exactly one bstr")
    proof = cbor2.loads(proofs[0])
    if not (isinstance(proof, (list, tuple)) and len(proof) == 3):
        raise ReceiptInvalid("inclusion proof is not [tree_size, leaf_index, path]")
    size, index, path = proof
    if not (isinstance(size, int) and isinstance(index, int) and size >= 0 and index >= 0):
        raise ReceiptInvalid("tree_size / leaf_index not unsigned integers")
    if not isinstance(path, (list, tuple)) or not all(isinstance(h, bytes) and len(h) == 32 for h in path):
        raise ReceiptInvalid("path is not an array of 32-byte bstr")
    return size, index, path


def verify_receipt(receipt, statement, log_key_map, expected_kid=None, leaf_entry=None):
    """Verifies an RFC 9942 receipt for `statement` (leaf entry = SHA-256(statement) unless
    given). Returns a dict describing what it proves; raises ReceiptInvalid otherwise."""
    phdr_bytes, phdr, uhdr, payload, sig = decode_receipt(receipt)
    if phdr.get(HDR_VDS) != VDS_RFC9162_SHA256:
        raise ReceiptInvalid(f"protected vds (395) is {phdr.get(HDR_VDS)!r}, not 1")
    for label in phdr.get(2, []) or []:
        if label not in (1, 4, 15, HDR_VDS):
            raise ReceiptInvalid(f"unknown critical header {label!r}")
    alg = phdr.get(1)
    if alg not in RECEIPT_ALGS:
        raise ReceiptInvalid(f"unsupported receipt alg {alg!r}")
    if RECEIPT_ALGS[alg] != (log_key_map.get(1), log_key_map.get(-1)):
        raise ReceiptInvalid("receipt alg does not fit the log key type")
    if payload is not None:
        raise ReceiptInvalid("payload is not detached (nil)")
    kid = phdr.get(4)
    if expected_kid is not None and kid != expected_kid:
        raise ReceiptInvalid(f"receipt kid {kid!r} is not the log key thumbprint")
    size, index, path = inclusion_proof_of(uhdr)
    entry = sha256(statement) if leaf_entry is None else leaf_entry
    try:
        root = root_from_inclusion(leaf_hash(entry), index, size, path)
    except ValueError as e:
        raise ReceiptInvalid(f"inclusion proof: {e}")
    # 1. pycose (its Sig_structure, its ECDSA/EdDSA) over the detached root.
    msg = Sign1Message.decode(receipt)
    msg.key = pycose_public_key(log_key_map)
    try:
        pycose_ok = bool(msg.verify_signature(detached_payload=root))
    except Exception as e:
        raise ReceiptInvalid(f"pycose refused to verify: {e}")
    # 2. Our own RFC 9052 Sig_structure with `cryptography`, as a cross-check of pycose.
    tbs = cbor2.dumps(["Signature1", phdr_bytes, b"", root])
    crypto_ok = crypto_verify(crypto_public_key(log_key_map), alg, tbs, sig)
    if pycose_ok != crypto_ok:
        raise ReceiptInvalid(f"pycose ({pycose_ok}) and cryptography ({crypto_ok}) disagree")
    if not pycose_ok:
        raise ReceiptInvalid("receipt signature does not verify over the recomputed root")
    claims = phdr.get(15) if isinstance(phdr.get(15), dict) else {}
    return {"tree_size": size, "leaf_index": index, "root": root, "path": path,
            "kid": kid, "alg": alg, "iss": claims.get(1), "iat": claims.get(6)}


def receipt_fails(receipt, statement, log_key_map, expected_kid=None):
    try:
        verify_receipt(receipt, statement, log_key_map, expected_kid)
        return False
    except ReceiptInvalid:
        return True


def rebuild_receipt(receipt, mutate):
    """Decodes a receipt, applies mutate(arr, phdr, proof) and re-encodes it."""
    item = cbor2.loads(receipt)
    arr = list(item.value)
    proof = cbor2.loads(arr[1][HDR_VDP][-1][0])
    mutate(arr, proof)
    arr[1] = dict(arr[1])
    arr[1][HDR_VDP] = {-1: [cbor2.dumps(proof)]}
    return cbor2.dumps(cbor2.CBORTag(SIGN1_TAG, arr))


def flip(b, i=0):
    b = bytearray(b)
    b[i] ^= 0x01
    return bytes(b)


# ---------------------------------------------------------------------------------------------
# C2SP signed notes and checkpoints.
# ---------------------------------------------------------------------------------------------


def parse_vkey(vkey):
    """C2SP signed-note verifier key <name>+<hex id>+<base64(0x01 || ed25519 key)>."""
    parts = vkey.split("+", 2)  # names hold no '+'; base64 key material may
    if len(parts) != 3:
        raise ValueError(f"verifier key {vkey!r} is not name+id+key")
    name, hex_id, b64 = parts
    raw = base64.b64decode(b64, validate=True)
    if len(raw) != 33 or raw[0] != 0x01:
        raise ValueError("verifier key is not an Ed25519 (type 0x01) key")
    key_id = sha256(name.encode(), b"\n", raw)[:4]
    if key_id.hex() != hex_id or len(hex_id) != 8:
        raise ValueError(f"verifier key id {hex_id} is not SHA-256(name||\\n||key)[:4] = {key_id.hex()}")
    return name, key_id, ed25519.Ed25519PublicKey.from_public_bytes(raw[1:])


def verify_checkpoint(note, vkey, origin):
    """Verifies a C2SP tlog-checkpoint signed note; returns (size, root)."""
    name, key_id, public = parse_vkey(vkey)
    text = note.decode("utf-8")
    split = text.find("\n\n")
    if split < 0:
        raise ValueError("note has no blank line before its signatures")
    body = text[: split + 1]  # the signed message ends with the body's final newline
    sig_lines = text[split + 2:]
    if not sig_lines.endswith("\n"):
        raise ValueError("signature block does not end with a newline")
    lines = body.split("\n")[:-1]
    if len(lines) < 3:
        raise ValueError("checkpoint body has fewer than 3 lines")
    if lines[0] != origin:
        raise ValueError(f"checkpoint origin {lines[0]!r} is not {origin!r}")
    if not lines[1].isdigit() or (lines[1] != "0" and lines[1].startswith("0")):
        raise ValueError(f"tree size line {lines[1]!r} is not a decimal")
    size = int(lines[1])
    root = base64.b64decode(lines[2], validate=True)
    if len(root) != 32:
        raise ValueError("root hash is not 32 bytes")
    verified = False
    for line in sig_lines.split("\n")[:-1]:
        if not line.startswith("\u2014 "):
            raise ValueError(f"signature line {line!r} does not start with an em dash")
        sig_name, _, b64 = line[2:].partition(" ")
        raw = base64.b64decode(b64, validate=True)
        if sig_name == name and raw[:4] == key_id:
            try:
                public.verify(raw[4:], body.encode("utf-8"))
                verified = True
            except InvalidSignature:
                raise ValueError("checkpoint signature by the log key does not verify")
    if not verified:
        raise ValueError("no signature line by the checkpoint key")
    return size, root


# ---------------------------------------------------------------------------------------------
# Offline self-checks: the verifier against independent vectors.
# ---------------------------------------------------------------------------------------------


def vectors_dir(arg):
    d = arg or os.path.join(os.path.dirname(REPO), "shared", "vectors")
    if not os.path.isdir(d):
        print(f"third-party vectors not found at {d} (expected <repo>/../shared/vectors; "
              "pass --vectors DIR)", file=sys.stderr)
        sys.exit(2)
    return d


def check_thumbprints():
    R.step("RFC 9679 thumbprints and pycose signing (offline)")
    key = ec2_cose_key(bytes.fromhex(RFC9679_X), bytes.fromhex(RFC9679_Y))
    R.ok(thumbprint(key).hex() == RFC9679_THUMBPRINT, "RFC 9679 §6 example thumbprint")
    # docs/statements.md golden statement: the Ed25519 key with seed 0x01 * 32. pycose must
    # reproduce the 192 bytes exactly (Ed25519 is deterministic).
    golden_path = os.path.join(REPO, "crates/statement/tests/golden/ed25519_statement.hex")
    if not os.path.exists(golden_path):
        R.ok(False, f"golden statement {golden_path} missing")
        return
    golden = bytes.fromhex(open(golden_path).read().strip())
    sk = ed25519.Ed25519PrivateKey.from_private_bytes(b"\x01" * 32)
    kmap = ed25519_public_map(sk.public_key())
    ours = sign_statement(sk, kmap, "https://maker.example", "urn:example:device:1234",
                          "application/cbor", cbor2.dumps({1: "hello"}), iat=1767225600)
    R.ok(thumbprint(kmap).hex()
         == "dd2fb4e18b5e1ce30c4633aaa5f681da79c3b32998cc5aa21b1149c37231a6ac",
         "thumbprint of the docs/statements.md Ed25519 key")
    R.ok(ours == golden, "pycose reproduces the golden statement of docs/statements.md byte for byte")
    R.ok(pycose_verify_statement(golden, pycose_public_key(kmap)), "pycose verifies the golden statement")
    R.ok(sha256(golden).hex()
         == "ed7aa2bd3bdb679bae2b688128048a36d6a811759d30a89e46278b4de7b70a29",
         "golden statement entry id")


def check_project_goldens():
    """The golden receipt and checkpoint of docs/log-format.md, verified independently from the
    seeds the document names (so the document, not our Rust code, is what is checked)."""
    R.step("docs/log-format.md golden receipt and checkpoint (offline)")
    golden = os.path.join(REPO, "crates/log/tests/golden")
    log_sk = ed25519.Ed25519PrivateKey.from_private_bytes(b"\x07" * 32)
    log_map = ed25519_public_map(log_sk.public_key())
    receipt = bytes.fromhex(open(os.path.join(golden, "receipt_ed25519_size8_index2.cbor.hex"))
                            .read().strip())
    try:
        got = verify_receipt(receipt, b"golden statement 2", log_map, thumbprint(log_map))
        R.ok((got["tree_size"], got["leaf_index"], got["iss"], got["iat"])
             == (8, 2, "proverka.example/log", 1767225600), "golden receipt fields")
        # The root must be the MTH of the 8 documented statements.
        leaves = [leaf_hash(sha256(f"golden statement {i}".encode())) for i in range(8)]
        R.ok(got["root"] == mth(leaves), "golden receipt root = MTH of its 8 statements")
    except ReceiptInvalid as e:
        R.ok(False, f"golden receipt does not verify: {e}")
    cp_sk = ed25519.Ed25519PrivateKey.from_private_bytes(b"\x01" * 32)
    name = "proverka.example/log"
    raw = b"\x01" + cp_sk.public_key().public_bytes(serialization.Encoding.Raw,
                                                      serialization.PublicFormat.Raw)
    key_id = sha256(name.encode(), b"\n", raw)[:4].hex()
    vkey = f"{name}+{key_id}+{base64.b64encode(raw).decode()}"
    listed = open(os.path.join(golden, "note_keys.txt")).read().split()
    R.ok(vkey in listed, f"golden checkpoint verifier key derived from the seed ({vkey})")
    note = open(os.path.join(golden, "checkpoint_size1234.note"), "rb").read()
    try:
        size, root = verify_checkpoint(note, vkey, name)
        R.ok((size, root) == (1234, b"\xab" * 32), "golden checkpoint size and root")
    except ValueError as e:
        R.ok(False, f"golden checkpoint does not verify: {e}")


def check_merkle_vectors(vdir):
    R.step("RFC 9162 functions vs transparency-dev/merkle vectors (offline)")
    data = json.load(open(os.path.join(vdir, "rfc9162_transparency_dev_merkle.json")))
    b64 = lambda s: base64.b64decode(s) if s is not None else None
    golden = data["golden_tree"]
    leaves = [leaf_hash(bytes.fromhex(h)) for h in golden["leaf_inputs_hex"]]
    roots_ok = all(mth(leaves[:n]).hex() == golden["root_hashes_hex_by_size"][n]
                   for n in range(len(golden["root_hashes_hex_by_size"])))
    R.ok(roots_ok, "golden tree roots (sizes 0..8)")
    # Every inclusion proof of the golden tree, from our own MTH, verifies.
    all_ok = True
    for size in range(1, len(leaves) + 1):
        for i in range(size):
            path = inclusion_path(leaves[:size], i)
            all_ok &= verify_inclusion(leaves[i], i, size, path, mth(leaves[:size]))
    R.ok(all_ok, "self-built inclusion paths of the golden tree")
    bad = []
    for v in data["inclusion"]:
        got = verify_inclusion(b64(v["leafHash"]), v["leafIdx"], v["treeSize"],
                               [b64(p) for p in v["proof"] or []], b64(v["root"]))
        if got == v["wantErr"]:
            bad.append(v["file"])
    R.ok(not bad, f"{len(data['inclusion'])} inclusion vectors (wrong verdicts: {bad})")
    bad = []
    for v in data["consistency"]:
        got = verify_consistency(v["size1"], v["size2"], b64(v["root1"]), b64(v["root2"]),
                                 [b64(p) for p in v["proof"] or []])
        if got == v["wantErr"]:
            bad.append(v["file"])
    R.ok(not bad, f"{len(data['consistency'])} consistency vectors (wrong verdicts: {bad})")
    return len(data["inclusion"]), len(data["consistency"])


def inclusion_path(leaves, m):
    """RFC 9162 §2.1.3.1 PATH(m, D[n]) (only used to self-check the verifier)."""
    n = len(leaves)
    if n <= 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return inclusion_path(leaves[:k], m) + [mth(leaves[k:])]
    return inclusion_path(leaves[k:], m - k) + [mth(leaves[:k])]


def check_scitt_vectors(vdir):
    R.step("receipt verifier vs scitt-cose receipts (offline)")
    data = json.load(open(os.path.join(vdir, "scitt_cose_v1.json")))
    for v in data["vectors"]:
        exp = v["expected"]
        statement = bytes.fromhex(v["statement_hex"])
        receipt = bytes.fromhex(v["receipt_hex"])
        log_map = cose_map_from_pem(v["log_key_pem"])
        issuer_map = cose_map_from_pem(v["issuer_key_pem"])
        try:
            got = verify_receipt(receipt, statement, log_map)
            receipt_ok, why = True, ""
            R.ok(got["tree_size"] == exp["tree_size"] and got["leaf_index"] == exp["leaf_index"]
                 and got["root"].hex() == exp["reconstructed_root"],
                 f"{v['id']}: proof fields and reconstructed root")
        except ReceiptInvalid as e:
            receipt_ok, why = False, str(e)
        R.ok(receipt_ok == exp["receipt_valid"],
             f"{v['id']}: receipt verdict {receipt_ok} (expected {exp['receipt_valid']}) {why}")
        # A refusal must be for the vector's stated reason, not an incidental one.
        reason_words = {"UNSUPPORTED_VDS": "vds", "TAMPERED_INCLUSION_PATH": "recomputed root"}
        word = reason_words.get(exp.get("failure_code"))
        if word and not receipt_ok:
            R.ok(word in why, f"{v['id']}: refused for {exp['failure_code']} (got: {why})")
        R.ok(sha256(statement).hex() == exp["leaf_entry"], f"{v['id']}: leaf entry = SHA-256(statement)")
        stmt_ok = pycose_verify_statement(statement, pycose_public_key(issuer_map))
        R.ok(stmt_ok == exp["statement_signature_valid"],
             f"{v['id']}: statement signature verdict {stmt_ok} (expected {exp['statement_signature_valid']})")
    return len(data["vectors"])


def cose_map_from_pem(pem):
    key = serialization.load_pem_public_key(pem.encode())
    if isinstance(key, ed25519.Ed25519PublicKey):
        return ed25519_public_map(key)
    return p256_public_map(key)


# ---------------------------------------------------------------------------------------------
# HTTP (stdlib urllib, no redirects followed so 201 / 200 / 303 are visible).
# ---------------------------------------------------------------------------------------------


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


class Http:
    def __init__(self, base):
        self.base = base.rstrip("/")

    def request(self, method, path, body=None, headers=None):
        req = urllib.request.Request(self.base + path, data=body, method=method,
                                     headers=headers or {})
        try:
            with OPENER.open(req, timeout=60) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def get(self, path, accept=None):
        return self.request("GET", path, headers={"Accept": accept} if accept else {})

    def get_ok(self, path, accept=None):
        status, headers, body = self.get(path, accept)
        if status != 200:
            raise Failure(f"GET {path} -> {status} {body[:300]!r}")
        return headers, body

    def post_statement(self, statement, accept=None):
        headers = {"Content-Type": "application/cose"}
        if accept:
            headers["Accept"] = accept
        return self.request("POST", "/entries", body=statement, headers=headers)


def header(headers, name):
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


# ---------------------------------------------------------------------------------------------
# Against a running node.
# ---------------------------------------------------------------------------------------------


class Ledger:
    def __init__(self, url, data_dir):
        self.http = Http(url)
        self.dir = data_dir
        self.submitted = []  # (label, statement, receipt)

    def load_genesis(self):
        R.step("genesis, keys and configuration")
        self.genesis = json.load(open(os.path.join(self.dir, "genesis.json")))
        self.origin = self.genesis["origin"]
        self.receipt_key_map = cbor2.loads(bytes.fromhex(self.genesis["receipt_key"]))
        self.receipt_kid = thumbprint(self.receipt_key_map)
        R.require(self.receipt_key_map.get(1) == 2 and self.receipt_key_map.get(-1) == 1,
                  "genesis receipt_key is an EC2 P-256 COSE_Key")
        R.ok(self.receipt_key_map == required_members(self.receipt_key_map),
             "genesis receipt_key holds exactly kty/crv/x/y")
        pem = open(os.path.join(self.dir, "dev-admin.key.pem")).read()
        self.admin = serialization.load_pem_private_key(pem.encode(), password=None)
        R.require(isinstance(self.admin, ec.EllipticCurvePrivateKey), "dev-admin.key.pem is a P-256 key")
        self.admin_map = p256_public_map(self.admin.public_key())
        admins = [i for i in self.genesis["issuers"] if i["iss"] == "dev-admin"]
        R.require(len(admins) == 1 and admins[0]["admin"], "genesis names one admin issuer dev-admin")
        R.ok(thumbprint(cbor2.loads(bytes.fromhex(admins[0]["key"]))) == thumbprint(self.admin_map),
             "dev-admin.key.pem is the genesis dev-admin key")
        # COSE_KeySet
        hdrs, body = self.http.get_ok("/.well-known/scitt-keys")
        keyset = cbor2.loads(body)
        R.require(isinstance(keyset, (list, tuple)) and keyset, "scitt-keys is a non-empty CBOR array")
        match = [k for k in keyset if isinstance(k, dict) and k.get(2) == self.receipt_kid]
        R.require(len(match) == 1, "scitt-keys has one key whose kid (2) is the receipt key thumbprint")
        served = dict(match[0])
        R.ok(thumbprint(served) == served[2], "scitt-keys kid equals the key's own RFC 9679 thumbprint")
        del served[2]
        R.ok(served == self.receipt_key_map, "scitt-keys key equals genesis receipt_key")
        self.log_key_map = required_members(match[0])
        # transparency configuration (CBOR, and JSON on request)
        _, body = self.http.get_ok("/.well-known/transparency-configuration")
        cfg = cbor2.loads(body)
        _, body = self.http.get_ok("/.well-known/transparency-configuration", "application/json")
        cfg_json = json.loads(body)
        R.ok(cfg == cfg_json, "transparency-configuration: CBOR and JSON agree")
        R.ok(cfg.get("issuer") == self.origin, "configuration issuer = genesis origin")
        R.ok(cfg.get("receipt_kid") == self.receipt_kid.hex(), "configuration receipt_kid = thumbprint")
        R.ok(cfg.get("checkpoint_vkey") == self.genesis["checkpoint_vkey"], "configuration checkpoint_vkey")
        name, _, _ = parse_vkey(self.genesis["checkpoint_vkey"])
        R.ok(name == self.origin, "checkpoint_vkey name = origin")

    def checkpoint(self, label):
        hdrs, note = self.http.get_ok("/checkpoint")
        try:
            size, root = verify_checkpoint(note, self.genesis["checkpoint_vkey"], self.origin)
        except ValueError as e:
            R.require(False, f"checkpoint {label}: {e}\n{note.decode(errors='replace')}")
        R.ok(True, f"checkpoint {label} signature")
        print(f"  checkpoint {label}: size {size} root {root.hex()}")
        return size, root

    def submit(self, label, statement, expect=(201,)):
        status, hdrs, body = self.http.post_statement(statement)
        if status == 303:
            # Documented slow path: poll the Location until the receipt is there.
            loc = header(hdrs, "Location")
            R.ok(loc == f"/entries/{sha256(statement).hex()}", f"{label}: 303 Location")
            for _ in range(120):
                status2, _, body = self.http.get(loc)
                if status2 == 200:
                    break
                time.sleep(0.5)
            R.require(status2 == 200, f"{label}: receipt after 303 (last status {status2})")
            status = 201
        R.require(status in expect,
                  f"{label}: POST /entries -> {status} (expected {expect}): {body[:400]!r}")
        if status in (200, 201):
            R.ok(header(hdrs, "Content-Type") == "application/cose", f"{label}: receipt content type")
        return status, body

    def verify(self, label, statement, receipt):
        try:
            got = verify_receipt(receipt, statement, self.log_key_map, self.receipt_kid)
        except ReceiptInvalid as e:
            R.require(False, f"{label}: receipt does not verify: {e} (receipt {receipt.hex()})")
        R.ok(got["iss"] in (None, self.origin), f"{label}: receipt iss {got['iss']!r} = origin")
        R.ok(got["alg"] == -7, f"{label}: receipt alg ES256")
        phdr_bytes = cbor2.loads(receipt).value[0]
        R.ok(deterministic(cbor2.loads(phdr_bytes)) == phdr_bytes,
             f"{label}: receipt protected header in deterministic CBOR ({phdr_bytes.hex()})")
        R.ok(isinstance(got["iat"], int), f"{label}: receipt iat claim is an integer")
        return got

    def register_issuer(self, label, iss, key_map, admin=False):
        payload = deterministic({1: iss, 2: deterministic(required_members(key_map)), 3: admin})
        stmt = sign_statement(self.admin, self.admin_map, "dev-admin", f"issuer:{iss}",
                              ISSUER_REGISTRATION_CT, payload)
        status, receipt = self.submit(label, stmt)
        got = self.verify(label, stmt, receipt)
        self.submitted.append((label, stmt, receipt, got))
        return stmt


def run_online(url, data_dir):
    L = Ledger(url, data_dir)
    L.load_genesis()

    R.step("checkpoint of the fresh log")
    size0, root0 = L.checkpoint("start")
    if size0 == 0:
        R.ok(root0 == sha256(b""), "empty-tree root is SHA-256 of the empty string (RFC 9162 §2.1.1)")

    R.step("register a P-256 and an Ed25519 issuer (admin-signed with pycose, ES256)")
    p256 = ec.generate_private_key(ec.SECP256R1())
    p256_map = p256_public_map(p256.public_key())
    edk = ed25519.Ed25519PrivateKey.generate()
    ed_map = ed25519_public_map(edk.public_key())
    print(f"  P-256 kid   {thumbprint(p256_map).hex()}")
    print(f"  Ed25519 kid {thumbprint(ed_map).hex()}")
    L.register_issuer("register P-256 issuer", "interop-p256", p256_map)
    L.register_issuer("register Ed25519 issuer", "interop-ed25519", ed_map)
    size_a, root_a = L.checkpoint("A")

    R.step("sign statements with pycose (ES256 and EdDSA) and register them")
    statements = []
    for i in range(3):
        statements.append((f"ES256 statement {i}", sign_statement(
            p256, p256_map, "interop-p256", f"urn:interop:p256:{i}", "application/json",
            json.dumps({"n": i, "signer": "pycose ES256"}).encode())))
        statements.append((f"EdDSA statement {i}", sign_statement(
            edk, ed_map, "interop-ed25519", f"urn:interop:ed25519:{i}", "text/plain",
            f"pycose EdDSA statement {i}".encode())))
    for label, stmt in statements:
        status, receipt = L.submit(label, stmt)
        got = L.verify(label, stmt, receipt)
        L.submitted.append((label, stmt, receipt, got))
    print(f"  {len(statements)} statements registered, receipts verified")
    size_b, root_b = L.checkpoint("B")
    R.ok(size_b >= size_a + len(statements), "checkpoint B covers the new statements")

    R.step("resubmission, GET /entries/{id}, /statement")
    label, stmt, _, first = L.submitted[-1]
    status, receipt = L.submit("resubmission", stmt, expect=(200,))
    got = L.verify("resubmission", stmt, receipt)
    R.ok(got["leaf_index"] == first["leaf_index"], "resubmission keeps the leaf index")
    for label, stmt, _, first in L.submitted:
        eid = sha256(stmt).hex()
        hdrs, receipt = L.http.get_ok(f"/entries/{eid}")
        got = L.verify(f"GET receipt of {label}", stmt, receipt)
        R.ok(got["leaf_index"] == first["leaf_index"], f"{label}: GET receipt leaf index")
        _, served = L.http.get_ok(f"/entries/{eid}/statement")
        R.ok(served == stmt, f"{label}: GET /statement returns the exact bytes")

    R.step("inclusion proofs (GET /entries/{id}/inclusion-proof)")
    for label, stmt, _, first in L.submitted:
        eid = sha256(stmt).hex()
        leaf = leaf_hash(sha256(stmt))
        _, body = L.http.get_ok(f"/entries/{eid}/inclusion-proof?tree_size={size_b}")
        p = json.loads(body)
        path = [bytes.fromhex(h) for h in p["path"]]
        R.ok(p["tree_size"] == size_b and p["leaf_index"] == first["leaf_index"],
             f"{label}: proof at checkpoint B size names the receipt's leaf index")
        R.ok(bytes.fromhex(p["root"]) == root_b, f"{label}: proof root = signed checkpoint B root")
        R.ok(verify_inclusion(leaf, p["leaf_index"], p["tree_size"], path, root_b),
             f"{label}: inclusion in checkpoint B verifies (RFC 9162 §2.1.3.2)")
        # Same proof at the receipt's own tree size must lead to the receipt's signed root.
        _, body = L.http.get_ok(f"/entries/{eid}/inclusion-proof?tree_size={first['tree_size']}")
        p = json.loads(body)
        R.ok(bytes.fromhex(p["root"]) == first["root"]
             and verify_inclusion(leaf, p["leaf_index"], p["tree_size"],
                                  [bytes.fromhex(h) for h in p["path"]], first["root"]),
             f"{label}: proof at the receipt's tree size reaches the receipt's signed root")
        # Latest head without tree_size.
        _, body = L.http.get_ok(f"/entries/{eid}/inclusion-proof")
        p = json.loads(body)
        R.ok(verify_inclusion(leaf, p["leaf_index"], p["tree_size"],
                              [bytes.fromhex(h) for h in p["path"]], bytes.fromhex(p["root"])),
             f"{label}: inclusion proof at the latest head verifies")
    for label, stmt, _, got in L.submitted:
        if got["tree_size"] == size_a:
            R.ok(got["root"] == root_a, f"{label}: receipt root = checkpoint A root (same size)")
        if got["tree_size"] == size_b:
            R.ok(got["root"] == root_b, f"{label}: receipt root = checkpoint B root (same size)")

    R.step("consistency proof between checkpoints A and B")
    _, body = L.http.get_ok(f"/proofs/consistency?old={size_a}&new={size_b}")
    c = json.loads(body)
    cpath = [bytes.fromhex(h) for h in c["path"]]
    R.ok((c["old_size"], c["new_size"]) == (size_a, size_b), "consistency sizes")
    R.ok(bytes.fromhex(c["old_root"]) == root_a and bytes.fromhex(c["new_root"]) == root_b,
         "consistency roots = signed checkpoint roots")
    R.ok(verify_consistency(size_a, size_b, root_a, root_b, cpath),
         f"consistency {size_a} -> {size_b} verifies (RFC 9162 §2.1.4.2)")
    R.ok(not verify_consistency(size_a, size_b, root_a, root_b, [flip(cpath[0])] + cpath[1:])
         if cpath else True, "tampered consistency proof fails")
    # Every older size the log had is consistent with B too.
    all_ok = True
    for old in range(1, size_b):
        _, body = L.http.get_ok(f"/proofs/consistency?old={old}&new={size_b}")
        c = json.loads(body)
        all_ok &= verify_consistency(old, size_b, bytes.fromhex(c["old_root"]), root_b,
                                     [bytes.fromhex(h) for h in c["path"]])
    R.ok(all_ok, f"consistency proofs from every size 1..{size_b - 1} to {size_b}")

    R.step("C2SP tlog-tiles: level-0 tile and entry bundle rebuild checkpoint B")
    check_tiles(L, size_b, root_b)

    R.step("negative checks")
    label, stmt, receipt, got = L.submitted[2]
    path_len = len(got["path"])
    R.ok(path_len > 0, "a receipt with a non-empty path to tamper with")
    if path_len:
        def tamper_path(arr, proof):
            proof[2][0] = flip(proof[2][0])
        R.ok(receipt_fails(rebuild_receipt(receipt, tamper_path), stmt, L.log_key_map),
             "tampered receipt path fails")

    def tamper_index(arr, proof):
        proof[1] = proof[1] ^ 1

    R.ok(receipt_fails(rebuild_receipt(receipt, tamper_index), stmt, L.log_key_map),
         "tampered receipt leaf index fails")

    def tamper_sig(arr, proof):
        arr[3] = flip(arr[3], 5)

    R.ok(receipt_fails(rebuild_receipt(receipt, tamper_sig), stmt, L.log_key_map),
         "tampered receipt signature fails")
    R.ok(receipt_fails(receipt, L.submitted[3][1], L.log_key_map), "receipt for another statement fails")
    R.ok(receipt_fails(receipt, stmt, required_members(L.admin_map)), "receipt under another key fails")
    R.ok(receipt_fails(receipt, stmt, L.log_key_map, expected_kid=thumbprint(L.admin_map)),
         "receipt with an unexpected kid fails")
    R.ok(not receipt_fails(rebuild_receipt(receipt, lambda a, p: None), stmt, L.log_key_map),
         "re-encoded untampered receipt still verifies (tamper checks are meaningful)")

    stranger = ec.generate_private_key(ec.SECP256R1())
    s_map = p256_public_map(stranger.public_key())
    unknown = sign_statement(stranger, s_map, "stranger", "urn:interop:stranger",
                             "application/json", b'{"who":"nobody"}')
    check_refusal(L, "unregistered issuer", unknown, 403, "Unknown issuer")
    mismatch = sign_statement(p256, p256_map, "not-interop-p256", "urn:interop:mismatch",
                              "application/json", b"{}")
    check_refusal(L, "issuer mismatch", mismatch, 403, "Issuer mismatch")
    not_admin_payload = deterministic({1: "stranger", 2: deterministic(s_map), 3: False})
    not_admin = sign_statement(p256, p256_map, "interop-p256", "issuer:stranger",
                               ISSUER_REGISTRATION_CT, not_admin_payload)
    check_refusal(L, "registration by a non-admin", not_admin, 403, "Not an admin issuer")
    good = sign_statement(edk, ed_map, "interop-ed25519", "urn:interop:badsig", "text/plain", b"x")
    bad_sig = good[:-1] + bytes([good[-1] ^ 0x01])
    check_refusal(L, "bad signature", bad_sig, 400, "Bad signature")
    dup = sign_statement(
        L.admin, L.admin_map, "dev-admin", "issuer:again", ISSUER_REGISTRATION_CT,
        deterministic({1: "interop-p256-again", 2: deterministic(p256_map), 3: False}))
    check_refusal(L, "registering a registered key", dup, 409, "Issuer already registered")
    size_c, _ = L.checkpoint("C (after refusals)")
    R.ok(size_c == size_b, "refused statements added no leaves")
    return len(L.submitted), size_a, size_b


def check_refusal(L, label, stmt, status, title):
    st, hdrs, body = L.http.post_statement(stmt, accept="application/problem+json")
    ok = st == status
    try:
        problem = json.loads(body)
    except ValueError:
        problem = {}
    R.ok(ok and problem.get("title") == title,
         f"{label}: expected {status} {title!r}, got {st} {body[:300]!r}")
    R.ok(header(hdrs, "Content-Type") == "application/problem+json",
         f"{label}: JSON problem content type ({header(hdrs, 'Content-Type')})")
    # Default representation: RFC 9290 concise problem details (CBOR).
    st, hdrs, body = L.http.post_statement(stmt)
    try:
        cproblem = cbor2.loads(body)
    except Exception:
        cproblem = {}
    R.ok(st == status and isinstance(cproblem, dict) and cproblem.get(-1) == title,
         f"{label}: CBOR problem {st} {cproblem!r}")
    print(f"  {label}: {status} {title}")


def tile_index_path(n):
    """C2SP tlog-tiles index encoding: 3-digit groups, all but the last prefixed with x."""
    groups = []
    while True:
        groups.insert(0, f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


def check_tiles(L, size, root):
    leaves = []
    entries = []
    full = size // 256
    for t in range(full + 1):
        width = 256 if t < full else size % 256
        if width == 0:
            break
        suffix = "" if width == 256 else f".p/{width}"
        _, tile = L.http.get_ok(f"/tile/0/{tile_index_path(t)}{suffix}")
        R.ok(len(tile) == 32 * width, f"level-0 tile {t} holds {width} hashes")
        leaves += [tile[i:i + 32] for i in range(0, len(tile), 32)]
        _, bundle = L.http.get_ok(f"/tile/entries/{tile_index_path(t)}{suffix}")
        i = 0
        while i < len(bundle):
            n = int.from_bytes(bundle[i:i + 2], "big")
            entries.append(bundle[i + 2:i + 2 + n])
            i += 2 + n
    R.ok(mth(leaves) == root, "Merkle Tree Hash of the level-0 tiles = checkpoint root")
    R.ok(len(entries) == size and [leaf_hash(e) for e in entries] == leaves,
         "entry bundle entries hash to the level-0 tile leaves")
    ids = {sha256(stmt) for _, stmt, _, _ in L.submitted}
    R.ok(ids <= set(entries), "every registered statement id is an entry of the bundle")


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="base URL of a running `proverka node --dev`")
    ap.add_argument("--data-dir", help="that node's data directory (genesis.json, dev-admin.key.pem)")
    ap.add_argument("--vectors", help="third-party vectors directory (default <repo>/../shared/vectors)")
    ap.add_argument("--self-test", action="store_true", help="only the offline checks")
    args = ap.parse_args()
    if not args.self_test and not (args.url and args.data_dir):
        ap.error("--url and --data-dir are required (or --self-test)")
    vdir = vectors_dir(args.vectors)
    summary = []
    try:
        check_thumbprints()
        check_project_goldens()
        n_inc, n_cons = check_merkle_vectors(vdir)
        n_scitt = check_scitt_vectors(vdir)
        summary.append(f"offline: RFC 9679 thumbprints, golden statement/receipt/checkpoint, {n_inc} inclusion + "
                       f"{n_cons} consistency vectors, {n_scitt} scitt-cose receipts")
        if not args.self_test:
            n, size_a, size_b = run_online(args.url, args.data_dir)
            summary.append(f"online: {n} pycose statements registered and their receipts, "
                           f"inclusion proofs, checkpoints and consistency {size_a}->{size_b} verified")
    except Failure:
        pass
    except Exception:
        R.ok(False, "unexpected error:\n" + traceback.format_exc())
    print()
    for line in summary:
        print(f"summary: {line}")
    print(f"summary: {R.passed} checks passed, {len(R.failures)} failed")
    if R.failures:
        print("FAILURES:")
        for f in R.failures:
            print(f"  - {f}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

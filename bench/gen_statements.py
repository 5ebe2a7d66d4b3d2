"""Pre-signs N distinct ES256 statements with a dev node's admin key, for bench/register.lua.

Usage: .venv/bin/python bench/gen_statements.py DATA_DIR N OUT
Each record in OUT is a 4-byte big-endian length followed by one tagged COSE_Sign1.
Uses Python's cryptography and cbor2 (scripts/setup-python.sh), not our code.
"""
import sys, json, struct, cbor2
from cryptography.hazmat.primitives import serialization, hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
d = sys.argv[1]; n = int(sys.argv[2]); out = sys.argv[3]
key = serialization.load_pem_private_key(open(d + "/dev-admin.key.pem", "rb").read(), None)
kid = bytes.fromhex(json.load(open(d + "/dev-admin.json"))["kid"])
with open(out, "wb") as f:
    for i in range(n):
        prot = cbor2.dumps({1: -7, 3: "application/json", 4: kid, 15: {1: "dev-admin", 2: "sensor-%d" % (i % 1000), 6: 1764000000 + i}})
        payload = json.dumps({"reading": i, "pad": "x" * 150}).encode()
        tbs = cbor2.dumps(["Signature1", prot, b"", payload])
        r, s = utils.decode_dss_signature(key.sign(tbs, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        msg = cbor2.dumps(cbor2.CBORTag(18, [prot, {}, payload, sig]))
        f.write(struct.pack(">I", len(msg)) + msg)

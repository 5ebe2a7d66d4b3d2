"""Writes the entry ids (hex SHA-256) of the statements in a bench/gen_statements.py file, one per line.

Usage: python3 bench/entry_ids.py STATEMENTS OUT
"""
import hashlib, struct, sys
data = open(sys.argv[1], "rb").read(); pos = 0; out = open(sys.argv[2], "w")
while pos < len(data):
    (n,) = struct.unpack(">I", data[pos:pos+4]); out.write(hashlib.sha256(data[pos+4:pos+4+n]).hexdigest() + "\n"); pos += 4 + n

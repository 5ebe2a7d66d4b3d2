#!/usr/bin/env bash
# Makes a set of IEEE 802.1AR IDevID test certificates with openssl (the standard tool, which
# nobody on the team wrote), for the tests of crates/idevid.
#
#   bash scripts/make-idevid-certs.sh OUT_DIR
#
# Writes DER certificates (*.der) and the device private keys (*.key.pem, unencrypted PKCS#8,
# TEST KEYS ONLY) into OUT_DIR; the CA keys live in a scratch directory that is deleted at the
# end. Every validity period is a fixed calendar date (not "now + N days"), so one instant,
# 2030-01-01T00:00:00Z, is inside every "good" certificate's validity whenever the set is made.
# The committed copy in crates/idevid/tests/fixtures/ was made by this script; the tests run it
# again at test time and check the fresh set against the same specification.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi
if ! command -v openssl >/dev/null 2>&1; then
    echo "make-idevid-certs.sh: openssl not found; it is part of the base system (apt-get install openssl)" >&2
    exit 127
fi

OUT=$1
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

# Validity periods. 99991231235959Z is RFC 5280's "no well-defined expiration date", which
# IEEE 802.1AR recommends for IDevIDs (they live as long as the device).
FOREVER=99991231235959Z
ROOT_START=20200101000000Z
ROOT_END=20600101000000Z # the root expires (2060) before its intermediates do
LEAF_START=20240101000000Z

cat >ext.cnf <<'EOF'
[root_ext]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[int_ext]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

# An "intermediate" that says it is not a CA, though its key usage would allow signing certs.
[int_not_ca_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyCertSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

# An IDevID as IEEE 802.1AR describes it: no EKU, digitalSignature, and the
# hardwareModuleName (RFC 4108) of the device in subjectAltName.
[leaf_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = otherName:1.3.6.1.5.5.7.8.4;SEQUENCE:hmn

[hmn]
# 1.3.6.1.4.1.32473 is the documentation-only enterprise number (RFC 5612).
hwType = OID:1.3.6.1.4.1.32473.1.1
hwSerialNum = OCTETSTRING:PRV-0001

[leaf_eku_client_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth

[leaf_eku_server_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth

[leaf_key_agreement_ext]
basicConstraints = critical, CA:false
keyUsage = critical, keyAgreement

# An extension nobody knows, marked critical: a verifier must refuse the certificate.
[leaf_unknown_critical_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
1.3.6.1.4.1.32473.1.2 = critical, ASN1:NULL

[leaf_is_ca_ext]
basicConstraints = critical, CA:true
keyUsage = critical, digitalSignature, keyCertSign
EOF

# quietly CMD...: runs CMD, showing its output only if it fails.
quietly() {
    if ! "$@" >"$WORK/log" 2>&1; then
        cat "$WORK/log" >&2
        echo "make-idevid-certs.sh: failed: $*" >&2
        exit 1
    fi
}

# genkey NAME ALGORITHM: writes NAME.key.pem (PKCS#8).
genkey() {
    case $2 in
    p256) quietly openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key.pem" ;;
    p384) quietly openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$1.key.pem" ;;
    p521) quietly openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out "$1.key.pem" ;;
    ed25519) quietly openssl genpkey -algorithm ED25519 -out "$1.key.pem" ;;
    rsa2048) quietly openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key.pem" ;;
    *) echo "unknown key type $2" >&2; exit 1 ;;
    esac
}

# A minimal `openssl ca` set-up per issuer: `openssl ca` (unlike `openssl x509` in 3.0) takes
# absolute -startdate/-enddate.
cacnf() {
    mkdir -p "ca-$1/new"
    : >"ca-$1/index.txt"
    echo 01 >"ca-$1/serial"
    cat >"ca-$1/ca.cnf" <<EOF
[ca]
default_ca = this_ca
[this_ca]
database = $WORK/ca-$1/index.txt
new_certs_dir = $WORK/ca-$1/new
serial = $WORK/ca-$1/serial
private_key = $WORK/$1.key.pem
unique_subject = no
copy_extensions = none
policy = any_dn
[any_dn]
commonName = supplied
EOF
}

# issue NAME SUBJECT KEY ISSUER EXT START END DIGEST: NAME.pem, a certificate for KEY.
# ISSUER "self" makes a self-signed certificate. DIGEST "default" lets openssl choose (it has
# to for Ed25519, which has no separate digest).
issue() {
    local name=$1 subj=$2 key=$3 issuer=$4 ext=$5 start=$6 end=$7 md=$8
    quietly openssl req -new -key "$key.key.pem" -subj "$subj" -out "$name.csr"
    local args=(-batch -notext -preserveDN -rand_serial -extfile ext.cnf -extensions "$ext"
        -startdate "$start" -enddate "$end" -md "$md" -in "$name.csr" -out "$name.pem")
    if [ "$issuer" = self ]; then
        cacnf "$key"
        quietly openssl ca -config "ca-$key/ca.cnf" -selfsign "${args[@]}"
    else
        [ -f "ca-$issuer/ca.cnf" ] || cacnf "$issuer"
        quietly openssl ca -config "ca-$issuer/ca.cnf" -cert "$issuer.pem" "${args[@]}"
    fi
    openssl x509 -in "$name.pem" -outform DER -out "$OUT/$name.der"
}

ORG="/O=Proverka Test Meters"

# The maker's root (P-256) and its intermediate (P-384), plus other issuers for the
# positive and negative cases.
genkey root-ca p256
issue root-ca "$ORG/CN=Proverka Test Maker Root CA" root-ca self root_ext $ROOT_START $ROOT_END sha256
genkey intermediate-ca p384
issue intermediate-ca "$ORG/CN=Proverka Test Maker Intermediate CA P-384" intermediate-ca root-ca int_ext $ROOT_START $FOREVER sha256
genkey intermediate-ed25519 ed25519
issue intermediate-ed25519 "$ORG/CN=Proverka Test Maker Intermediate CA Ed25519" intermediate-ed25519 root-ca int_ext $ROOT_START $FOREVER sha256
genkey intermediate-not-ca p384
issue intermediate-not-ca "$ORG/CN=Proverka Test Not A CA" intermediate-not-ca root-ca int_not_ca_ext $ROOT_START $FOREVER sha256
# A second-level intermediate under the P-384 one, whose pathlen:0 forbids it.
genkey intermediate-sub p256
issue intermediate-sub "$ORG/CN=Proverka Test Sub-Intermediate CA" intermediate-sub intermediate-ca int_ext $ROOT_START $FOREVER sha384
genkey other-root-ca p256
issue other-root-ca "$ORG/CN=Proverka Test Other Maker Root CA" other-root-ca self root_ext $ROOT_START $ROOT_END sha256
genkey root-rsa rsa2048
issue root-rsa "$ORG/CN=Proverka Test Maker Root CA RSA" root-rsa self root_ext $ROOT_START $ROOT_END sha256
genkey root-p521 p521
issue root-p521 "$ORG/CN=Proverka Test Maker Root CA P-521" root-p521 self root_ext $ROOT_START $ROOT_END sha512

# Device IDevIDs: subject with serialNumber (802.1AR), no EKU, valid "forever".
genkey device-p256 p256
issue device-p256 "$ORG/CN=Proverka test meter/serialNumber=PRV-0001" device-p256 intermediate-ca leaf_ext $LEAF_START $FOREVER sha384
genkey device-ed25519 ed25519
issue device-ed25519 "$ORG/CN=Proverka test meter/serialNumber=PRV-0002" device-ed25519 intermediate-ca leaf_ext $LEAF_START $FOREVER sha384
issue device-under-ed25519-ca "$ORG/CN=Proverka test meter/serialNumber=PRV-0003" device-p256 intermediate-ed25519 leaf_ext $LEAF_START $FOREVER default
issue device-under-rsa-root "$ORG/CN=Proverka test meter/serialNumber=PRV-0004" device-p256 root-rsa leaf_ext $LEAF_START $FOREVER sha256
issue device-no-serial "$ORG/CN=Proverka test meter without serial" device-p256 intermediate-ca leaf_ext $LEAF_START $FOREVER sha384
issue device-eku-client "$ORG/CN=Proverka test meter/serialNumber=PRV-0005" device-p256 intermediate-ca leaf_eku_client_ext $LEAF_START $FOREVER sha384

# Negative material.
issue device-other-root "$ORG/CN=Proverka test meter/serialNumber=PRV-0101" device-p256 other-root-ca leaf_ext $LEAF_START $FOREVER sha256
issue device-expired "$ORG/CN=Proverka test meter/serialNumber=PRV-0102" device-p256 intermediate-ca leaf_ext 20200101000000Z 20210101000000Z sha384
issue device-not-yet-valid "$ORG/CN=Proverka test meter/serialNumber=PRV-0103" device-p256 intermediate-ca leaf_ext 20900101000000Z $FOREVER sha384
issue device-under-not-ca "$ORG/CN=Proverka test meter/serialNumber=PRV-0104" device-p256 intermediate-not-ca leaf_ext $LEAF_START $FOREVER sha384
issue device-p384-sha256 "$ORG/CN=Proverka test meter/serialNumber=PRV-0105" device-p256 intermediate-ca leaf_ext $LEAF_START $FOREVER sha256
issue device-eku-server "$ORG/CN=Proverka test meter/serialNumber=PRV-0106" device-p256 intermediate-ca leaf_eku_server_ext $LEAF_START $FOREVER sha384
issue device-key-agreement "$ORG/CN=Proverka test meter/serialNumber=PRV-0107" device-p256 intermediate-ca leaf_key_agreement_ext $LEAF_START $FOREVER sha384
issue device-under-sub "$ORG/CN=Proverka test meter/serialNumber=PRV-0109" device-p256 intermediate-sub leaf_ext $LEAF_START $FOREVER sha256
issue device-unknown-critical "$ORG/CN=Proverka test meter/serialNumber=PRV-0110" device-p256 intermediate-ca leaf_unknown_critical_ext $LEAF_START $FOREVER sha384
issue device-is-ca "$ORG/CN=Proverka test meter/serialNumber=PRV-0108" device-p256 intermediate-ca leaf_is_ca_ext $LEAF_START $FOREVER sha384

# The P-256 IDevID with one bit of its signature flipped: the last byte of the DER is the
# last byte of the ECDSA s value, so the certificate still parses but no longer verifies.
cp "$OUT/device-p256.der" device-tampered.der
size=$(wc -c <device-tampered.der)
last=$(tail -c 1 device-tampered.der | od -An -tu1 | tr -d ' ')
printf "$(printf '\\%03o' $((last ^ 1)))" |
    dd of=device-tampered.der bs=1 seek=$((size - 1)) conv=notrunc status=none
cp device-tampered.der "$OUT/device-tampered.der"

# The devices' private keys, so tests can show the leaf key is the device's key.
cp device-p256.key.pem device-ed25519.key.pem "$OUT/"
echo "wrote IDevID test certificates to $OUT"

#!/bin/sh
# make-certs.sh DIR - the TLS test certificates, made fresh for each test
# with the openssl command, so that no private key is ever committed.
#
#   ca.pem ca.key              the test CA
#   server.pem server.key      CN=localhost, SAN DNS:localhost IP:127.0.0.1 IP:::1
#   alice.pem alice.key        client, CN=alice (and bob.pem, bob.key)
#   expired.pem expired.key    client CN=alice, valid only in January 2020
#   rogue-ca.pem               another CA, unknown to the broker
#   rogue.pem rogue.key        client CN=alice signed by the rogue CA
#
# EC P-256 keys: quick to make, and what a modern deployment would use.
set -eu
cd "$1"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() { # NAME SUBJECT
    key "$1.key"
    openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 2 -subj "$2" \
        -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign
}

# leaf NAME CN CA EXTENSIONS
leaf() {
    key "$1.key"
    openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2"
    printf '%s\n' "$4" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" \
        -CAcreateserial -out "$1.pem" -days 2 -extfile "$1.ext" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

client_ext='basicConstraints=CA:FALSE
extendedKeyUsage=clientAuth'

ca ca "/CN=mpbroker test CA"
ca rogue-ca "/CN=mpbroker rogue CA"
leaf server localhost ca 'basicConstraints=CA:FALSE
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1'
leaf alice alice ca "$client_ext"
leaf bob bob ca "$client_ext"
leaf rogue alice rogue-ca "$client_ext"

# An expired certificate needs explicit dates, which only `openssl ca`
# can set.
key expired.key
openssl req -new -key expired.key -out expired.csr -subj "/CN=alice"
: >index.txt
printf '1000\n' >serial
cat >ca.cnf <<CNF
[ca]
default_ca = test
[test]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
x509_extensions = client
[any]
commonName = supplied
[client]
basicConstraints = CA:FALSE
extendedKeyUsage = clientAuth
CNF
openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key \
    -in expired.csr -out expired.pem -notext \
    -startdate 20200101000000Z -enddate 20200201000000Z 2>/dev/null
rm -f expired.csr ca.cnf index.txt* serial* 1000.pem ca.srl rogue-ca.srl

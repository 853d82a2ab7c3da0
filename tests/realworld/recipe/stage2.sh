# Layer 2: packages installed (procps), one file of layer 1 deleted (a
# whiteout) and one directory replaced (an opaque directory, where the
# builder writes one). One command per line (a Dockerfile RUN).
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends procps
apt-get clean
rm -rf /var/lib/apt/lists/*
rm /opt/realworld/doomed.txt
rm -rf /opt/realworld/conf
mkdir /opt/realworld/conf
echo c >/opt/realworld/conf/c.conf

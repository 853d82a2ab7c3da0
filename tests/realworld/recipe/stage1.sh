# Layer 1, run in the fresh mmdebstrap --variant=minbase tree: a user in extra
# groups, and files that layer 2 deletes or replaces. One command per line:
# build.sh joins the lines into a Dockerfile RUN, so no line continues.
groupadd --gid 1500 crew
useradd --uid 1234 --user-group --groups crew,dialout --create-home --home-dir /home/alice --shell /bin/bash alice
echo 'alice was here' >/home/alice/.realworld
chown alice:alice /home/alice/.realworld
mkdir -p /opt/realworld/conf
echo a >/opt/realworld/conf/a.conf
echo b >/opt/realworld/conf/b.conf
echo 'layer 2 deletes this' >/opt/realworld/doomed.txt
apt-get clean
rm -rf /var/lib/apt/lists/*

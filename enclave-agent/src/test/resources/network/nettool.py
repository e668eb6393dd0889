#!/usr/bin/python3
"""Traffic probes for the network tests, run inside test namespaces.

serve PORT NAME            TCP: answer each connection with "NAME from-peer=<peer ip>" and close.
echo PORT                  TCP: echo every line back (for held connections).
connect HOST PORT SECS     TCP: print what the server sends; exit 1 if nothing within SECS.
hold HOST PORT SECS        TCP: one connection, a line every 0.2 s; print "ok N" per echo; exit when SECS pass or it breaks.
udp-listen PORT SECS       UDP: print "DATA from-peer=<ip>" of the first datagram; exit 1 if none within SECS.
udp-send SRC SPORT DST DPORT DATA   UDP: send one datagram from SRC:SPORT (SRC may be any address on the host).
ping-df HOST BYTES SECS    ICMP echo of BYTES bytes of IP packet with DF set and no local fragmentation (ping -M do;
                           the host has no iputils ping): "reply" (exit 0), "too-big" (the sending interface's MTU
                           refuses it, exit 2) or "no-reply" within SECS (exit 1).
"""
import os
import socket
import struct
import sys
import threading
import time


def serve(port, name):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(16)
    print("listening", flush=True)
    while True:
        c, peer = s.accept()
        try:
            c.sendall(("%s from-peer=%s\n" % (name, peer[0])).encode())
        finally:
            c.close()


def echo(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(16)
    print("listening", flush=True)

    def handle(c):
        with c:
            while True:
                data = c.recv(4096)
                if not data:
                    return
                c.sendall(data)

    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def connect(host, port, secs):
    try:
        c = socket.create_connection((host, port), timeout=secs)
        c.settimeout(secs)
        data = c.recv(4096)
        sys.stdout.write(data.decode())
        return 0 if data else 1
    except OSError as e:
        print("failed: %s" % e)
        return 1


def hold(host, port, secs):
    c = socket.create_connection((host, port), timeout=2)
    c.settimeout(1)
    end = time.time() + secs
    n = 0
    while time.time() < end:
        try:
            c.sendall(b"x\n")
            if not c.recv(16):
                break
            n += 1
            print("ok %d" % n, flush=True)
        except OSError as e:
            print("broken after %d: %s" % (n, e), flush=True)
            return 1
        time.sleep(0.2)
    return 0


def udp_listen(port, secs):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    s.settimeout(secs)
    print("listening", flush=True)
    try:
        data, peer = s.recvfrom(4096)
        print("%s from-peer=%s" % (data.decode(), peer[0]), flush=True)
        return 0
    except socket.timeout:
        print("nothing", flush=True)
        return 1


def udp_send(src, sport, dst, dport, data):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.bind((src, sport))
    s.sendto(data.encode(), (dst, dport))
    return 0


IP_MTU_DISCOVER = 10  # linux/in.h; not exported by Python's socket module
IP_PMTUDISC_DO = 2


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def ping_df(host, size, secs):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
    ident = os.getpid() & 0xFFFF
    payload = b"\xa5" * (size - 28)
    header = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
    packet = struct.pack("!BBHHH", 8, 0, checksum(header + payload), ident, 1) + payload
    try:
        s.sendto(packet, (host, 0))
    except OSError as e:
        print("too-big: %s" % e, flush=True)
        return 2
    end = time.time() + secs
    while time.time() < end:
        s.settimeout(max(0.01, end - time.time()))
        try:
            data, peer = s.recvfrom(65535)
        except socket.timeout:
            break
        ihl = (data[0] & 0x0F) * 4
        kind, _, _, rid, _ = struct.unpack("!BBHHH", data[ihl:ihl + 8])
        if peer[0] == host and kind == 0 and rid == ident:
            print("reply %d bytes" % len(data), flush=True)
            return 0
    print("no-reply", flush=True)
    return 1


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "serve":
        serve(int(args[0]), args[1])
    elif cmd == "echo":
        echo(int(args[0]))
    elif cmd == "connect":
        sys.exit(connect(args[0], int(args[1]), float(args[2])))
    elif cmd == "hold":
        sys.exit(hold(args[0], int(args[1]), float(args[2])))
    elif cmd == "udp-listen":
        sys.exit(udp_listen(int(args[0]), float(args[1])))
    elif cmd == "udp-send":
        sys.exit(udp_send(args[0], int(args[1]), args[2], int(args[3]), args[4]))
    elif cmd == "ping-df":
        sys.exit(ping_df(args[0], int(args[1]), float(args[2])))
    else:
        sys.exit("unknown command " + cmd)

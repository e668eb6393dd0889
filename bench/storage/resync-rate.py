#!/usr/bin/env python3
"""Resync rate of a 3-copy quorum volume inside a QEMU with no guest (paused, -S): fill the volume
through the guest device's BlockBackend (HMP qemu-io), then rebuild copy 1 on a new file with
blockdev-mirror replaces=<copy 1> as QemuStorageDriver does, sampling query-jobs. Also times a live
internal snapshot of all three copies (stop, x-blockdev-change out/in per copy, cont).
Usage: resync-rate.py [dir] [MiB]"""
import json, os, shutil, socket, subprocess, sys, time

d = sys.argv[1] if len(sys.argv) > 1 else '/tmp/ent4-resync'
mib = int(sys.argv[2]) if len(sys.argv) > 2 else 512
os.makedirs(d, exist_ok=True)

class Qmp:
    def __init__(self, path):
        self.sk = socket.socket(socket.AF_UNIX); self.sk.connect(path); self.f = self.sk.makefile('rw')
        json.loads(self.f.readline()); self.cmd('qmp_capabilities')
    def cmd(self, _name, **args):
        self.f.write(json.dumps({'execute': _name, 'arguments': args}) + '\n'); self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if 'event' in r: continue
            if 'error' in r: raise RuntimeError(f'{_name}: {r["error"]["desc"]}')
            return r['return']

pid = None
try:
    for i in range(4):
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', f'{d}/c{i}.qcow2', f'{mib}M'], check=True)
    args = []
    for i in range(3):
        args += ['-blockdev', json.dumps({'driver': 'file', 'node-name': f'f{i}', 'filename': f'{d}/c{i}.qcow2', 'cache': {'direct': True}}),
                 '-blockdev', json.dumps({'driver': 'qcow2', 'node-name': f'q{i}', 'file': f'f{i}'})]
    args += ['-blockdev', json.dumps({'driver': 'quorum', 'node-name': 'vol', 'vote-threshold': 2, 'rewrite-corrupted': True, 'children': ['q0', 'q1', 'q2']}),
             '-device', 'virtio-blk-pci,drive=vol,id=vol-dev']
    sock = f'{d}/qmp.sock'
    subprocess.run(['qemu-system-x86_64', '-name', 'ent4-resync,process=ent4-resync', '-machine', 'pc', '-accel', 'tcg', '-m', '64',
                    '-nodefaults', '-display', 'none', '-S', '-qmp', f'unix:{sock},server=on,wait=off', '-pidfile', f'{d}/pid', '-daemonize'] + args, check=True)
    pid = int(open(f'{d}/pid').read())
    q = Qmp(sock)
    t = time.time()
    q.cmd('human-monitor-command', **{'command-line': f'qemu-io -d /machine/peripheral/vol-dev/virtio-backend "write -P 0x5a 0 {mib}M"'})
    print(f'fill {mib} MiB through the 3-copy quorum: {mib / (time.time() - t):.0f} MiB/s')

    t = time.time()
    q.cmd('stop')
    for i in range(3):
        g = q.cmd('x-debug-query-block-graph'); ids = {n['id']: n['name'] for n in g['nodes']}
        edge = next(e['name'] for e in g['edges'] if ids[e['parent']] == 'vol' and ids[e['child']] == f'q{i}')
        q.cmd('x-blockdev-change', parent='vol', child=edge)
        q.cmd('blockdev-snapshot-internal-sync', device=f'q{i}', name='s1')
        q.cmd('x-blockdev-change', parent='vol', node=f'q{i}')
    q.cmd('cont')
    print(f'live internal snapshot of 3 copies ({mib} MiB allocated each): {(time.time() - t) * 1000:.0f} ms')
    q.cmd('stop')

    q.cmd('blockdev-add', **{'driver': 'file', 'node-name': 'f3', 'filename': f'{d}/c3.qcow2', 'cache': {'direct': True}})
    q.cmd('blockdev-add', driver='qcow2', **{'node-name': 'q3', 'file': 'f3'})
    t = time.time()
    q.cmd('blockdev-mirror', **{'job-id': 'resync', 'device': 'vol', 'target': 'q3', 'sync': 'full', 'replaces': 'q1', 'auto-dismiss': False})
    samples = []
    while True:
        j = q.cmd('query-jobs')[0]
        samples.append((round(time.time() - t, 2), j['current-progress'] * 100 // max(1, j['total-progress'])))
        if j['status'] == 'ready': break
        time.sleep(0.25)
    q.cmd('job-complete', id='resync')
    while q.cmd('query-jobs')[0]['status'] != 'concluded': time.sleep(0.02)
    secs = time.time() - t
    print(f'resync of {mib} MiB (fully allocated): {secs:.2f} s = {mib / secs:.0f} MiB/s; progress samples (s, %): {samples[:12]}')
finally:
    if pid:
        try: os.kill(pid, 9)
        except ProcessLookupError: pass
    shutil.rmtree(d, ignore_errors=True)

#!/usr/bin/env python3
"""Hands a socket (or something that is not one) to a command the way an init does.

upstart-socket-bridge + init: the bridge binds and listen()s, never accepts, and init starts
the job with the listening fd at some number N and UPSTART_FDS=N, PROTO, PATH=<socket path>
(replacing the job's PATH). systemd: fds from 3, LISTEN_FDS, LISTEN_PID of the child itself.
This parent keeps its own copy of the socket while the child runs, as the bridge does, and
prints the child's pid as one JSON line. Node cannot listen() without accepting, hence Python.
"""
import argparse, json, os, signal, socket, sys

p = argparse.ArgumentParser()
p.add_argument('--kind', required=True, choices=['listen-unix', 'listen-tcp', 'connected', 'file', 'udp', 'closed'])
p.add_argument('--path')
p.add_argument('--port', type=int, default=0)
p.add_argument('--fd', type=int, default=11)
p.add_argument('--mode', default='0777')
p.add_argument('--style', default='upstart', choices=['upstart', 'systemd', 'unicorn'])
p.add_argument('--listen-pid', help='systemd style: LISTEN_PID to set instead of the child pid')
p.add_argument('cmd', nargs=argparse.REMAINDER)
a = p.parse_args()
cmd = a.cmd[1:] if a.cmd[:1] == ['--'] else a.cmd

keep = None
if a.kind == 'listen-unix':
    if os.path.exists(a.path):
        os.unlink(a.path)
    keep = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    keep.bind(a.path)
    os.chmod(a.path, int(a.mode, 8))
    keep.listen(128)
elif a.kind == 'listen-tcp':
    keep = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    keep.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    keep.bind(('127.0.0.1', a.port))
    keep.listen(128)
elif a.kind == 'connected':
    keep, other = socket.socketpair()
elif a.kind == 'udp':
    keep = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    keep.bind(('127.0.0.1', 0))
elif a.kind == 'file':
    keep = open('/etc/hostname', 'rb')

fd = 3 if a.style == 'systemd' else a.fd
info = {'port': keep.getsockname()[1] if a.kind == 'listen-tcp' else None}

pid = os.fork()
if pid == 0:
    if keep is not None:
        if keep.fileno() != fd:
            os.dup2(keep.fileno(), fd)
        os.set_inheritable(fd, True)  # dup2 onto itself would keep Python's close-on-exec
    env = dict(os.environ)
    if a.style == 'upstart':
        env.update(UPSTART_FDS=str(fd), UPSTART_EVENTS='socket', UPSTART_JOB='phoenix', UPSTART_INSTANCE='', PROTO='unix')
        if a.path:
            env['PATH'] = a.path  # what 1.5 really does: the event's PATH= replaces the job's PATH
    elif a.style == 'systemd':
        env.update(LISTEN_FDS='1', LISTEN_PID=a.listen_pid or str(os.getpid()), LISTEN_FDNAMES='phoenix')
    else:
        env.update(UNICORN_FD=str(fd))
    os.execve(cmd[0], cmd, env)

print(json.dumps({'child': pid, 'parent': os.getpid(), **info}), flush=True)
signal.signal(signal.SIGTERM, lambda *_: (os.kill(pid, signal.SIGTERM)))
while True:
    try:
        _, status = os.waitpid(pid, 0)
        break
    except InterruptedError:
        continue
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)

"""The LAS protocol by hand, for tests/e2e_attest_las.sh: the challenge line, the request, the answer."""
import array
import json
import os
import socket

H = "ab" * 32
# A request without workload; CHAL becomes the connection's challenge.
GOOD = ('{"challenge":"CHAL","nonce":"%s","report_data":"%s"}\n' % (H, H)).encode()


def read_line(s):
    out = b""
    while not out.endswith(b"\n"):
        b = s.recv(4096)
        if not b:
            break
        out += b
    return out


def send_request(s, hello, data=GOOD, fds=(), pidfd_of=None):
    """Sends data with CHAL replaced by hello's challenge. A pidfd of pidfd_of (default: this
    process) goes first among the descriptors unless pidfd_of is False."""
    data = data.replace(b"CHAL", json.loads(hello)["challenge"].encode())
    if pidfd_of is not False:
        fds = [os.pidfd_open(os.getpid() if pidfd_of is None else pidfd_of)] + list(fds)
    if fds:
        s.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
    elif data:
        s.sendall(data)


def talk(sock, data=GOOD, fds=(), close_early=False, timeout=10, pidfd=True):
    """One exchange; returns every byte the LAS sent (the challenge line first), or only its
    first line when that is a refusal ("busy")."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock)
    hello = read_line(s)
    if b'"challenge"' not in hello:
        s.close()
        return hello
    try:
        send_request(s, hello, data, fds, None if pidfd else False)
        if close_early:
            s.close()
            return b""
        s.shutdown(socket.SHUT_WR)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the LAS gave up on an oversized request before we finished sending
    out = hello
    try:
        while True:
            b = s.recv(4096)
            if not b:
                break
            out += b
    except ConnectionResetError:
        out += b"<reset>"
    s.close()
    return out

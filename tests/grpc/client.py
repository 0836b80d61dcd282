"""The grpcio client of wingress's gRPC tests, against server.py behind
wingress: unary, bidirectional streaming, a status with its message, a
deadline; with CUT_AUTHORITY also a call longer than the route's timeout
(see the end)."""

import sys, time
import grpc

# client.py HOST:PORT CA_FILE AUTHORITY [CUT_AUTHORITY]
target, ca_file, authority = sys.argv[1], sys.argv[2], sys.argv[3]
cut_authority = sys.argv[4] if len(sys.argv) > 4 else None

def unary_slow(ch):
    return ch.unary_unary("/test.Echo/Slow")
creds = grpc.ssl_channel_credentials(root_certificates=open(ca_file, "rb").read())
def connect(authority):
    options = [("grpc.ssl_target_name_override", authority), ("grpc.default_authority", authority)]
    return grpc.secure_channel(target, creds, options=options)

channel = connect(authority)

unary = channel.unary_unary("/test.Echo/Unary")
assert unary(b"hello", timeout=10) == b"echo:hello"
print("unary ok")

# Each reply is read before the next request is sent: both directions
# stream, interleaved.
import queue, threading
outbox = queue.Queue()
def requests():
    while True:
        item = outbox.get()
        if item is None:
            return
        yield item
replies = channel.stream_stream("/test.Echo/Bidi")(requests(), timeout=10)
for i in range(5):
    outbox.put(b"m%d" % i)
    assert next(replies) == b"echo:m%d" % i
outbox.put(None)
assert list(replies) == []
print("bidi ok")

try:
    channel.unary_unary("/test.Echo/Fail")(b"x", timeout=10)
    raise SystemExit("Fail succeeded")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.PERMISSION_DENIED, e.code()
    assert e.details() == "nope: not for you", e.details()
print("status ok")

start = time.monotonic()
try:
    channel.unary_unary("/test.Echo/Slow")(b"x", timeout=0.8)
    raise SystemExit("Slow succeeded")
except grpc.RpcError as e:
    took = time.monotonic() - start
    assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED, e.code()
    assert 0.7 < took < 2.0, took
print("deadline ok")

if cut_authority is None:
    raise SystemExit(0)

# The route's timeout is 1s; AUTHORITY's route has grpc_deadline = true,
# so a 5s deadline lets the 3s call finish. CUT_AUTHORITY's has not:
# wingress answers 504 after 1s, which gRPC reports as UNAVAILABLE.
assert unary_slow(channel)(b"x", timeout=5) == b"late"
cut = connect(cut_authority)
start = time.monotonic()
try:
    unary_slow(cut)(b"x", timeout=5)
    raise SystemExit(cut_authority + ": Slow succeeded")
except grpc.RpcError as e:
    took = time.monotonic() - start
    assert e.code() == grpc.StatusCode.UNAVAILABLE, e.code()
    assert 0.9 < took < 2.5, took
print("route timeout ok")

"""A grpcio server for wingress's gRPC tests: service test.Echo with
generic handlers on raw bytes (no generated code). Listens on 127.0.0.1,
on the port given (0 or none: any), and prints the port. With a
certificate and key file after the port it serves TLS (h2 by ALPN).

Unary echoes, Bidi echoes each message as it arrives, Fail aborts with
PERMISSION_DENIED, Slow answers after 3 s."""

import sys, time
from concurrent import futures
import grpc

def unary(request, context):
    return b"echo:" + request

def bidi(requests, context):
    for r in requests:
        yield b"echo:" + r

def fail(request, context):
    context.abort(grpc.StatusCode.PERMISSION_DENIED, "nope: not for you")

def slow(request, context):
    time.sleep(3)
    return b"late"

handlers = {
    "Unary": grpc.unary_unary_rpc_method_handler(unary),
    "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
    "Fail": grpc.unary_unary_rpc_method_handler(fail),
    "Slow": grpc.unary_unary_rpc_method_handler(slow),
}
server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", handlers),))
address = "127.0.0.1:" + (sys.argv[1] if len(sys.argv) > 1 else "0")
if len(sys.argv) > 3:
    pair = (open(sys.argv[3], "rb").read(), open(sys.argv[2], "rb").read())
    port = server.add_secure_port(address, grpc.ssl_server_credentials([pair]))
else:
    port = server.add_insecure_port(address)
server.start()
print(port, flush=True)
server.wait_for_termination()

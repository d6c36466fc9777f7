"""Schemathesis hooks for the local stack (SCHEMATHESIS_HOOKS=st_hooks).

cargo lambda's emulator hands JSON and text bodies to the function as strings, so a body that is
not valid UTF-8 fails inside the emulator (its own 500) before the function runs. API Gateway
would deliver such bytes (base64 under a binary media type); the function's handler tests cover
non-UTF-8 JSON bodies. Here they are filtered out so the fuzzing exercises the function only.
"""

import json

import schemathesis


def _is_utf8(body) -> bool:
    try:
        if isinstance(body, (bytes, bytearray)):
            bytes(body).decode("utf-8")
        elif isinstance(body, str):
            body.encode("utf-8")
        else:
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        return True
    except (UnicodeError, TypeError, ValueError):
        return False


@schemathesis.hook
def filter_body(context, body) -> bool:
    return _is_utf8(body)

"""conftest's hook fixture, and its guard: a test that leaves a handler on the shared
client (lambda_function.CONTAINER.client) fails, and what it left is taken off."""

import boto3
import pytest
from conftest import hooks_kept, registered_handlers

import lambda_function as lf

EVENT = "before-call.cloudfront.ListDistributions"


def handler(**_):
    pass


def test_registered_handlers_sees_a_handler_and_a_unique_id_come_and_go():
    client = boto3.client("cloudfront")   # a client of its own: nothing is left on the shared one
    before = registered_handlers(client)
    client.meta.events.register(EVENT, handler)
    client.meta.events.register("before-send.cloudfront", handler, unique_id="mine")
    handlers, unique_ids = registered_handlers(client)
    assert handlers.count((EVENT, handler)) == 1 and len(handlers) == len(before[0]) + 2
    assert unique_ids == before[1] | {"mine"}
    client.meta.events.unregister(EVENT, handler)
    client.meta.events.unregister("before-send.cloudfront", unique_id="mine")
    assert registered_handlers(client) == before


def test_unregistering_without_the_handler_removes_nothing():
    # The mistake the guard catches: botocore's unregister(event) without the handler.
    client = boto3.client("cloudfront")
    client.meta.events.register(EVENT, handler)
    client.meta.events.unregister(EVENT)
    assert (EVENT, handler) in registered_handlers(client)[0]


def test_the_guard_fails_a_block_that_leaves_a_handler_and_takes_it_off():
    client = boto3.client("cloudfront")
    before = registered_handlers(client)
    with pytest.raises(pytest.fail.Exception, match=rf"left \[\('{EVENT}', '<function handler"):
        with hooks_kept(client):
            client.meta.events.register(EVENT, handler)
            client.meta.events.unregister(EVENT)
    assert registered_handlers(client) == before
    with hooks_kept(client):   # registered and unregistered by the handler: nothing to say
        client.meta.events.register(EVENT, handler)
        client.meta.events.unregister(EVENT, handler)


def test_the_hook_fixture_registers_on_the_shared_client(hook):
    hook(EVENT, handler)
    assert (EVENT, handler) in registered_handlers(lf.CONTAINER.client)[0]
    # Unregistered when the test ends, or the guard (no_hook_left_behind) fails this test.

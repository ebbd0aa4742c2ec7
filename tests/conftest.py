pytest_plugins = [
    "tests.fixtures.kafka",
    "tests.fixtures.rackbeat_sim",
    "tests.fixtures.shopbox_sim",
]

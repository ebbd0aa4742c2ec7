"""The rules of each direction, plain and typed: no Kafka, no HTTP, no service.

Services, syncctl and the dashboard import these; nothing here imports them. What a rule needs
from the outside world comes in as a value or through a small `Protocol` (a port), so every rule
is unit-tested with plain data or an in-memory fake. The API data models it reads are the
clients' pydantic models (`services.clients`), never the clients themselves.
"""

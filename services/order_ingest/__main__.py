from services.common.runtime import run
from services.order_ingest.app import build

run(build)

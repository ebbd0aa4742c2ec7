from services.common.runtime import run
from services.order_writer.app import build

run(build)

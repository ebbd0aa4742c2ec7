from services.common.runtime import run
from services.stock_publisher.app import build

run(build)

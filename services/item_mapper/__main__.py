from services.common.runtime import run
from services.item_mapper.app import build

run(build)

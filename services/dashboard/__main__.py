from services.common.runtime import run
from services.dashboard.app import build

run(build)

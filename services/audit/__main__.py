from services.audit.app import build
from services.common.runtime import run

run(build)

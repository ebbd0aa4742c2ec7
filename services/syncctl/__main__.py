from services.syncctl.cli import main

main()

from xlflow.cli.main import main

main()

from dlrmsim.cli import main

raise SystemExit(main())

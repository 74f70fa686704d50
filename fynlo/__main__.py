from fynlo.cli import main

raise SystemExit(main())

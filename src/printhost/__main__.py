from printhost.cli import main

raise SystemExit(main())

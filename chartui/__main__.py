from chartui.cli import main

raise SystemExit(main())

from dietgen.cli import main

main()

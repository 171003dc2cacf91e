from chat.client.app import main

main()

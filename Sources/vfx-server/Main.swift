import Foundation
import Jobs

/// `vfx-server run-job` is a job's child process (see IsolatedJob); `worker` and `db` are the cluster's
/// commands; anything else is the server.
@main
enum Main {
    static func main() async {
        let args = CommandLine.arguments
        if args.count == 2, args[1] == "run-job" {
            exit(JobChild.main())
        }
        switch args.count > 1 ? args[1] : "" {
        case "worker": await Worker.main(Array(args.dropFirst(2)))
        case "db": await Database.main(Array(args.dropFirst(2)))
        case "queue": await QueueCommand.main(Array(args.dropFirst(2)))
        case "workers": await WorkersCommand.main(Array(args.dropFirst(2)))
        case "batch-queue": await BatchQueue.main(Array(args.dropFirst(2)))
        default: await Serve.main()
        }
    }
}

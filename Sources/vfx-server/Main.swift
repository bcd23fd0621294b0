import Foundation
import Jobs

/// `vfx-server run-job` is a job's child process (see IsolatedJob); anything else is the server.
@main
enum Main {
    static func main() async {
        if CommandLine.arguments.count == 2, CommandLine.arguments[1] == "run-job" {
            exit(JobChild.main())
        }
        await Serve.main()
    }
}
